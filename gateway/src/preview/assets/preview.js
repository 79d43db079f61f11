// Hermes preview page: starts a session (the gateway sets its cookie), follows the
// session's hits over server-sent events and shows each event's triggers, tags and
// messages. Plain DOM, no framework; hit data is only ever set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { source: null, paused: false, held: [], events: [] };

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : String(child ?? ""));
  }
  return node;
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").dataset.state = kind;
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.error) || response.statusText);
  return data;
}

async function start() {
  await call("POST", "/preview/session", { dryRun: $("dry-run").checked });
  follow();
}

function follow() {
  if (state.source) state.source.close();
  const source = new EventSource("/preview/stream");
  state.source = source;
  source.addEventListener("open", () => {
    setStatus("Live: browse your site in another tab", "live");
    $("end").disabled = false;
  });
  source.addEventListener("hit", (message) => receive(JSON.parse(message.data)));
  source.addEventListener("skipped", (message) =>
    setStatus(`Live (${message.data} hits skipped: too fast to show)`, "live"));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) setStatus("Session ended", "idle");
  });
}

async function end() {
  if (state.source) state.source.close();
  state.source = null;
  await call("DELETE", "/preview/session");
  setStatus("No session", "idle");
  $("end").disabled = true;
}

function receive(hit) {
  if (state.paused) {
    state.held.push(hit);
    $("held").textContent = `${state.held.length} held`;
    return;
  }
  show(hit);
}

function show(hit) {
  for (const event of hit.events) {
    const item = renderEvent(hit, event);
    $("hits").prepend(item);
    applyFilter(item);
  }
}

function tagStatus(tag) {
  if (tag.fired) return ["fired", "yes"];
  if (tag.reason.startsWith("blocked")) return ["blocked", "blocked"];
  return ["not fired", "no"];
}

function renderEvent(hit, event) {
  const data = event.eventData || {};
  const fired = event.tags.filter((t) => t.fired).map((t) => t.name);
  const time = new Date(hit.time).toLocaleTimeString();
  const client = event.client === "measurementProtocol" || event.client === "mp" ? "MP" : "GA4";
  const summary = element("summary", {},
    element("span", { class: "time" }, time),
    element("span", { class: "client" }, client),
    element("span", { class: "name" }, event.eventName),
    element("span", { class: "cid" }, data.client_id ?? ""),
    element("span", { class: "badge" }, `${fired.length} tag${fired.length === 1 ? "" : "s"} fired`),
    hit.dryRun ? element("span", { class: "badge dry" }, "dry run") : "",
  );
  const copy = element("button", { type: "button", textContent: "Copy as JSON" });
  const copied = element("pre", { hidden: true });
  copy.addEventListener("click", async () => {
    const text = json({ time: hit.time, path: hit.path, dryRun: hit.dryRun, event });
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      // No clipboard access (plain http, permissions): show it to copy by hand.
      copied.textContent = text;
      copied.hidden = false;
    }
  });
  const body = element("div", { class: "body" },
    copy, copied,
    element("h3", {}, "Event data"),
    element("pre", { class: "event-data" }, json(data)),
    element("h3", {}, "Triggers"),
    triggersTable(event.triggers),
    element("h3", {}, "Tags"),
    tagsTable(event.tags),
    element("h3", {}, "Messages"),
    messages(event.tags),
  );
  return element("li", {
    class: "event",
    "data-event-name": event.eventName,
    "data-tags": fired.join("\n"),
  }, element("details", {}, summary, body));
}

function yesNo(value) {
  return element("span", { class: value ? "yes" : "no" }, value ? "yes" : "no");
}

function triggersTable(triggers) {
  const rows = triggers.map((trigger) => {
    const conditions = element("ul", {}, ...trigger.conditions.map((c) =>
      element("li", {},
        `${JSON.stringify(c.variable)} ${c.negate ? "not " : ""}${c.operator} ${JSON.stringify(c.operand)}`,
        ` — values ${JSON.stringify(c.values)} → `, yesNo(c.result))));
    return element("tr", { class: "trigger", "data-name": trigger.name },
      element("td", {}, trigger.name),
      element("td", { class: "fired" }, yesNo(trigger.fired)),
      element("td", {}, yesNo(trigger.eventMatched)),
      element("td", {}, yesNo(trigger.clientMatched)),
      element("td", {}, conditions));
  });
  return element("table", {},
    element("tr", {}, ...["Trigger", "Fired", "Event matched", "Client matched", "Conditions"]
      .map((h) => element("th", {}, h))),
    ...rows);
}

function tagsTable(tags) {
  const rows = tags.map((tag) => {
    const [label, kind] = tagStatus(tag);
    return element("tr", { class: "tag", "data-name": tag.name },
      element("td", {}, tag.name),
      element("td", { class: `status ${kind}` }, label),
      element("td", {}, tag.reason));
  });
  return element("table", {},
    element("tr", {}, ...["Tag", "Status", "Reason"].map((h) => element("th", {}, h))),
    ...rows);
}

function messages(tags) {
  const all = tags.flatMap((tag) => tag.messages);
  if (all.length === 0) return element("p", {}, "None.");
  return element("div", {}, ...all.map((m) => element("div", { class: "message" },
    element("table", {},
      element("tr", {}, element("th", {}, "Tag"), element("td", {}, m.tag)),
      element("tr", {}, element("th", {}, "Topic"), element("td", { class: "topic" }, m.topic)),
      element("tr", {}, element("th", {}, "Ordering key"), element("td", {}, m.orderingKey ?? "—")),
      element("tr", {}, element("th", {}, "Attributes"),
        element("td", {}, element("pre", {}, json(m.attributes)))),
      element("tr", {}, element("th", {}, "Payload"),
        element("td", {}, element("pre", { class: "payload" }, json(m.data))))))));
}

function applyFilter(item) {
  const name = $("filter-event").value.trim().toLowerCase();
  const tag = $("filter-tag").value.trim().toLowerCase();
  const nameOk = !name || item.dataset.eventName.toLowerCase().includes(name);
  const tagOk = !tag || item.dataset.tags.toLowerCase().split("\n").some((t) => t.includes(tag));
  item.hidden = !(nameOk && tagOk);
}

function refilter() {
  for (const item of $("hits").children) applyFilter(item);
}

function togglePause() {
  state.paused = !state.paused;
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused) {
    const held = state.held;
    state.held = [];
    $("held").textContent = "";
    held.forEach(show);
  }
}

async function sendTestHit(submit) {
  submit.preventDefault();
  const result = $("test-result");
  try {
    const hit = await call("POST", "/preview/test-hit", {
      client: $("test-client").value,
      query: $("test-query").value,
      body: $("test-body").value,
    });
    // Shown in the list through the stream when a session is open, else here.
    if (!state.source) show(hit);
    result.textContent = `Evaluated ${hit.events.length} event(s); nothing published.`;
  } catch (error) {
    result.textContent = `Refused: ${error.message}`;
  }
}

function guard(action) {
  return () => action().catch((error) => setStatus(`Error: ${error.message}`, "error"));
}

$("start").addEventListener("click", guard(start));
$("end").addEventListener("click", guard(end));
$("dry-run").addEventListener("change", () => {
  if (state.source) {
    call("PUT", "/preview/session", { dryRun: $("dry-run").checked })
      .catch((error) => setStatus(`Error: ${error.message}`, "error"));
  }
});
$("pause").addEventListener("click", togglePause);
$("clear").addEventListener("click", () => $("hits").replaceChildren());
$("filter-event").addEventListener("input", refilter);
$("filter-tag").addEventListener("input", refilter);
$("test-hit-form").addEventListener("submit", sendTestHit);
