// The live preview in a real browser (Debian's headless Chromium, driven by
// playwright-core): the preview page starts a session, a shop page in another tab sends
// gtag-style hits with `navigator.sendBeacon` and `fetch(…, {credentials: "include"})`,
// and the page must show them with their triggers, tags and messages. A second person's
// session must see none of them, and without the token there is no page and no stream.
//
// Environment: HERMES_GATEWAY (http://127.0.0.1:PORT, a gateway serving examples/),
// HERMES_DEBUG_TOKEN, HERMES_SCREENSHOT (where to keep the screenshot),
// HERMES_NODE_MODULES (holding playwright-core), CHROMIUM (default /usr/bin/chromium).
// Exits non-zero, saying what was missing, when the preview does not show what it must.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";

const gateway = required("HERMES_GATEWAY");
const token = required("HERMES_DEBUG_TOKEN");
const screenshot = required("HERMES_SCREENSHOT");
const modules = required("HERMES_NODE_MODULES");
const { chromium } = createRequire(join(modules, "noop.js"))("playwright-core");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(`preview check failed: ${message}`);
}

// gtag.js' own hits: a purchase whose second item has a promotion (sent as a beacon)
// and a LowStock event (sent by fetch with credentials).
const PURCHASE = "v=2&tid=G-0000&cid=1234567890.1732880000&en=purchase&cu=EUR" +
  "&ep.transaction_id=T-9001&epn.value=32.5" +
  "&pr1=idPLATE-99~nmDinner%20Plate~pr12.5~qt2" +
  "&pr2=idSPOON-3~nmSpoon~pr7.5~qt1~piSUMMER24~pnSummer%20Sale";
const LOW_STOCK = "v=2&tid=G-0000&cid=1234567890.1732880000&en=LowStock&ep.sku=BOWL-10";

const SHOP_PAGE = `<!doctype html><title>Shop</title><h1>Thank you</h1><script>
  const gateway = ${JSON.stringify(gateway)};
  navigator.sendBeacon(gateway + "/g/collect?${PURCHASE}");
  fetch(gateway + "/g/collect?${LOW_STOCK}", { method: "POST", credentials: "include", keepalive: true })
    .then((r) => { document.title = "sent " + r.status; });
</script>`;

// The shop: another origin on 127.0.0.1, so the hits are cross-origin but same-site,
// as a shop on www.example and its gateway on metrics.example are.
const shop = createServer((_, response) => {
  response.writeHead(200, { "content-type": "text/html" });
  response.end(SHOP_PAGE);
});
await new Promise((resolve) => shop.listen(0, "127.0.0.1", resolve));
const shopUrl = `http://127.0.0.1:${shop.address().port}/checkout/done`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  // No token: no page and no stream, and nothing in the answer.
  for (const path of ["/preview", "/preview/stream"]) {
    const response = await fetch(gateway + path);
    check(response.status === 401, `${path} without the token answered ${response.status}`);
    check((await response.text()) === "", `${path} without the token said something`);
  }

  const credentials = { username: "preview", password: token };
  const me = await browser.newContext({ httpCredentials: credentials, viewport: { width: 1280, height: 1000 } });
  const other = await browser.newContext({ httpCredentials: credentials });

  const preview = await me.newPage();
  await preview.goto(`${gateway}/preview`);
  await preview.click("#start");
  await preview.waitForSelector('#status[data-state="live"]');

  const theirs = await other.newPage();
  await theirs.goto(`${gateway}/preview`);
  await theirs.click("#start");
  await theirs.waitForSelector('#status[data-state="live"]');

  // Another tab of the same browser: the shop sends its hits with the session cookie.
  const shopTab = await me.newPage();
  await shopTab.goto(shopUrl);
  await shopTab.waitForFunction(() => document.title.startsWith("sent"));
  check((await shopTab.title()) === "sent 204", `the LowStock hit: ${await shopTab.title()}`);

  await preview.bringToFront();
  const purchase = preview.locator('li.event[data-event-name="purchase"]');
  const lowStock = preview.locator('li.event[data-event-name="LowStock"]');
  await purchase.waitFor({ timeout: 15000 });
  await lowStock.waitFor({ timeout: 15000 });

  // Expanded, each event shows its client id, triggers, tags and rendered messages.
  await purchase.locator("summary").click();
  check((await purchase.locator(".cid").innerText()) === "1234567890.1732880000", "purchase client id");
  check((await purchase.locator(".client").innerText()) === "GA4", "purchase client");
  const trigger = (item, name) => item.locator(`tr.trigger[data-name="${name}"] td.fired`).innerText();
  const tag = (item, name) => item.locator(`tr.tag[data-name="${name}"] td.status`).innerText();
  check((await trigger(purchase, "purchase-with-promotion")) === "yes", "purchase-with-promotion fired");
  check((await trigger(purchase, "purchase-with-low-stock-item")) === "no", "no low-stock item bought");
  check((await tag(purchase, "promotion-used")) === "fired", "promotion-used fired");
  check((await tag(purchase, "low-stock-items")) === "not fired", "low-stock-items not fired");
  check((await tag(purchase, "shop-purchases")) === "not fired", "shop-purchases is MP only");
  const topics = await purchase.locator(".message .topic").allInnerTexts();
  check(topics.length === 1 && topics[0] === "projects/hermes-local/topics/promotions", `purchase topics ${topics}`);
  const payload = JSON.parse(await purchase.locator(".message .payload").innerText());
  check(payload.promotion_id === "SUMMER24" && payload.item_id === "SPOON-3", `payload ${JSON.stringify(payload)}`);

  await lowStock.locator("summary").click();
  check((await tag(lowStock, "low-stock-signal")) === "fired", "low-stock-signal fired");
  const lowStockTopic = await lowStock.locator(".message .topic").innerText();
  check(lowStockTopic === "projects/hermes-local/topics/low-stock", `LowStock topic ${lowStockTopic}`);

  // Filters: by event name, then by fired tag.
  await preview.fill("#filter-event", "lowst");
  check(await purchase.isHidden() && await lowStock.isVisible(), "the event-name filter");
  await preview.fill("#filter-event", "");
  await preview.fill("#filter-tag", "promotion");
  check(await purchase.isVisible() && await lowStock.isHidden(), "the tag filter");
  await preview.fill("#filter-tag", "");

  // A test hit, evaluated in dry run, joins the list.
  await preview.click("#test-hit summary");
  await preview.selectOption("#test-client", "ga4");
  await preview.fill("#test-query", "v=2&tid=G-0000&cid=7.7&en=add_to_cart&ep.sku=MUG-22");
  await preview.click('#test-hit-form button[type="submit"]');
  const testHit = preview.locator('li.event[data-event-name="add_to_cart"]');
  await testHit.waitFor({ timeout: 15000 });
  check((await testHit.locator(".badge.dry").count()) === 1, "the test hit is marked dry run");
  await testHit.locator("summary").click();
  check((await tag(testHit, "cart-activity")) === "fired", "cart-activity fired for the test hit");

  // The other person's session saw none of it.
  await theirs.waitForTimeout(500);
  const seen = await theirs.locator("li.event").count();
  check(seen === 0, `another session showed ${seen} of this session's events`);

  await preview.screenshot({ path: screenshot, fullPage: true });
  console.log(`preview shows the browser's hits; screenshot: ${screenshot}`);
} finally {
  await browser.close();
  shop.close();
}
