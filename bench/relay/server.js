// The relay a user writes instead of Hermes, the comparison point of scripts/load-bench:
// express takes gtag hits (/g/collect, events in the query and in a text body) and
// Measurement Protocol hits (/mp/collect, JSON), and publishes each e-commerce event
// (add_to_cart, purchase) with @google-cloud/pubsub's default batching. It answers once
// Pub/Sub has accepted the messages, as the client library's samples do, so a failed
// publish is an error the sender sees.
//
//   PUBSUB_EMULATOR_HOST=127.0.0.1:8085 PORT=8092 \
//     RELAY_TOPIC=projects/hermes-local/topics/relay node server.js
'use strict';

const express = require('express');
const { PubSub } = require('@google-cloud/pubsub');

const port = Number(process.env.PORT || 8092);
const topicName = process.env.RELAY_TOPIC || 'projects/hermes-local/topics/relay';
const secret = process.env.RELAY_MP_SECRET || 'bench-secret';
const relayed = new Set(['add_to_cart', 'purchase']);

const projectId = topicName.split('/')[1];
const topic = new PubSub({ projectId }).topic(topicName);

const app = express();
app.disable('x-powered-by');
app.use(express.text({ type: 'text/plain' }));
app.use(express.json());

// One gtag hit: shared parameters in the query, one event per body line (or the query's).
function gtagEvents(query, body) {
  const shared = new URLSearchParams(query);
  const lines = typeof body === 'string' && body.length > 0 ? body.split(/\r?\n/) : [''];
  return lines.map((line) => {
    const params = Object.fromEntries(shared);
    for (const [key, value] of new URLSearchParams(line)) params[key] = value;
    return { name: params.en, params };
  });
}

async function publish(events) {
  const sends = events
    .filter((event) => relayed.has(event.name))
    .map((event) => topic.publishMessage({ json: event, attributes: { event_name: event.name } }));
  await Promise.all(sends);
}

app.all('/g/collect', async (req, res) => {
  try {
    const query = req.originalUrl.slice(req.originalUrl.indexOf('?') + 1);
    await publish(gtagEvents(query, req.body));
    res.sendStatus(204);
  } catch (error) {
    console.error('publish failed', error);
    res.sendStatus(500);
  }
});

app.post('/mp/collect', async (req, res) => {
  if (req.query.api_secret !== secret) {
    res.sendStatus(401);
    return;
  }
  try {
    const body = req.body || {};
    const events = (body.events || []).map((event) => ({
      name: event.name,
      params: { ...event.params, client_id: body.client_id, user_id: body.user_id },
    }));
    await publish(events);
    res.sendStatus(204);
  } catch (error) {
    console.error('publish failed', error);
    res.sendStatus(500);
  }
});

app.listen(port, '127.0.0.1', () => console.log(`relay on 127.0.0.1:${port}, publishing to ${topicName}`));
