/**
 * The web pages in a real browser (Chromium through playwright-core) against a real server on the shipped model:
 * translating through the page with the streamed output, the auto-detect 400 message, swapping, the character
 * limit, phone width, and the dashboard on fixture registry rows (charts rendered from them), the empty-registry
 * page and the live view. Skips when Chromium or the model is absent. Failures leave screenshots in
 * test-results/browser/.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { startServer, type RunningServer } from "../src/server/server.js";
import { openRegistry } from "../src/storage/db.js";
import { createApiKey } from "../src/storage/keys.js";
import { fillDashboardRegistry, type DashboardFixture } from "./fixtures/dashboard-registry.js";
import { chromiumSkip, launchChromium, withPage } from "./helpers/browser.js";
import { modelSkip, postJson, SharedBackend, testSettings } from "./helpers/http.js";

// Browser globals used inside page.evaluate / waitForFunction callbacks, which run in the page (this project is
// compiled without the DOM library).
declare const window: any;
declare const document: any;
declare const MutationObserver: any;
declare type HTMLElement = { dataset: Record<string, string | undefined> };

const skip = modelSkip || chromiumSkip;
const opts = { skip, timeout: 120_000 };

const shared = new SharedBackend();
let browser: Browser;
let server: RunningServer;
let tmp: string;
let fixture: DashboardFixture;

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), "glossa-ui-"));
  const dbPath = join(tmp, "registry.sqlite");
  const reg = await openRegistry({ path: dbPath });
  try {
    fixture = await fillDashboardRegistry(reg.db);
  } finally {
    await reg.close();
  }
  // The registry feeds the dashboard only: routing stays on the reference engine (no engine files exist).
  server = await startServer({ settings: testSettings({ dbPath }), backend: await shared.get(), engineLookup: null });
  await server.ready;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close(0);
  await shared.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openTranslate(page: Page): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.waitForSelector("body[data-ready=true]");
  // Explicit translations only: typing must not race the test's Ctrl+Enter.
  await page.uncheck("#auto");
}

/** Every text the output element showed, in order (records of each replacement, not just the last state). */
async function recordOutputs(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { outputs: string[] };
    w.outputs = [];
    new MutationObserver((records: Array<{ addedNodes: Array<{ textContent: string | null }> }>) => {
      for (const r of records) for (const n of r.addedNodes) if (n.textContent) w.outputs.push(n.textContent);
    }).observe(document.getElementById("output")!, { childList: true });
  });
}

async function waitDone(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const o = document.getElementById("output")!;
    const err = document.getElementById("error")!;
    return o.dataset.state === "done" || !err.hidden;
  }, null, { timeout: 60_000 });
  const error = await page.locator("#error").textContent();
  assert.ok(await page.locator("#error").isHidden(), `the page shows an error: ${error}`);
}

test("translate page: a sentence typed and sent with Ctrl+Enter streams into the output and equals the API's answer", opts, async () => {
  await withPage(browser, "translate-stream", async (page) => {
    await openTranslate(page);
    await page.selectOption("#source", "en");
    await page.selectOption("#target", "de");
    const text = "The children are playing in the garden. My brother works at the hospital near the station.";
    await page.fill("#text", text);
    assert.equal(await page.locator("#count").textContent(), `${text.length} / 30,000`);
    await recordOutputs(page);
    await page.locator("#text").press("Control+Enter");
    await waitDone(page);
    const shown = (await page.locator("#output").textContent()) ?? "";
    const api = await postJson(server.url, "/translate", { text, source_lang: "en", target_lang: "de" });
    assert.equal(api.status, 200);
    assert.equal(shown, api.json.translations[0].text, "the page shows what the API answers");
    const outputs = await page.evaluate(() => (window as unknown as { outputs: string[] }).outputs);
    const partials = outputs.slice(0, -1).filter((o) => o !== shown);
    assert.ok(partials.length >= 2, `streamed: ${partials.length} partial outputs before the final one (${JSON.stringify(outputs.slice(0, 5))}...)`);
    assert.ok(partials.every((p) => p.length < shown.length), "partials grow towards the final text");
    assert.match((await page.locator("#info").textContent()) ?? "", /glossa-mini-50 · \d+ tokens/);
    assert.equal(await page.locator("#copy").isEnabled(), true);
  });
});

test("translate page: with the model's own decoding defaults (beam 4) the output grows line by line", opts, async () => {
  await server.scheduler()?.whenIdle();
  const beam = await startServer({ settings: testSettings({ beamSize: undefined }), backend: await shared.get(), engineLookup: null });
  try {
    await beam.ready;
    await withPage(browser, "translate-beam-stream", async (page) => {
      await page.goto(`${beam.url}/`);
      await page.waitForSelector("body[data-ready=true]");
      await page.uncheck("#auto");
      await page.selectOption("#source", "en");
      await page.selectOption("#target", "de");
      const text = ["Thank you.", "The train leaves at seven.", "Every summer my grandparents travel to the mountains with their old dog and stay there for three weeks."].join("\n");
      await page.fill("#text", text);
      await recordOutputs(page);
      await page.locator("#text").press("Control+Enter");
      await waitDone(page);
      const shown = (await page.locator("#output").textContent()) ?? "";
      const api = await postJson(beam.url, "/translate", { text, source_lang: "en", target_lang: "de" });
      assert.equal(shown, api.json.translations[0].text);
      assert.equal(shown.split("\n").length, 3, "line breaks kept");
      const outputs = await page.evaluate(() => (window as unknown as { outputs: string[] }).outputs);
      assert.ok(outputs.slice(0, -1).some((o) => o !== shown && o.length > 0), `a partial output before the final one: ${JSON.stringify(outputs)}`);
    });
  } finally {
    await beam.close(0);
  }
});

test("translate page: a pivot pair is marked in the target list and its translation says it went through English", opts, async () => {
  await withPage(browser, "translate-pivot", async (page) => {
    await openTranslate(page);
    const langs = (await (await fetch(`${server.url}/languages`)).json()) as Array<{ code: string; direct_targets: string[]; pivot: string | null }>;
    const de = langs.find((l) => l.code === "de")!;
    assert.equal(de.pivot, "en");
    assert.ok(!de.direct_targets.includes("fr"), "de-fr pivots on the shipped model");
    await page.selectOption("#source", "de");
    assert.equal(await page.locator('#target option[value="fr"]').textContent(), "French (via English)");
    assert.equal(await page.locator('#target option[value="en"]').textContent(), "English");
    await page.selectOption("#target", "fr");
    assert.match((await page.locator("#pivot-note").textContent()) ?? "", /German → French is translated through English/);
    const text = "Ich trinke jeden Morgen einen Kaffee mit Milch.";
    await page.fill("#text", text);
    await page.locator("#text").press("Control+Enter");
    await waitDone(page);
    assert.match((await page.locator("#info").textContent()) ?? "", /^via English · /);
    const api = await postJson(server.url, "/translate", { text, source_lang: "de", target_lang: "fr" });
    assert.equal(api.json.pivot, "en");
    assert.equal(await page.locator("#output").textContent(), api.json.translations[0].text);
    await page.selectOption("#target", "en");
    assert.equal(await page.locator("#pivot-note").isHidden(), true);
  });
});

test("translate page: 'Text is HTML' keeps the markup and shows it as text (not rendered)", opts, async () => {
  await withPage(browser, "translate-html", async (page) => {
    await openTranslate(page);
    await page.selectOption("#source", "en");
    await page.selectOption("#target", "es");
    await page.check("#html");
    const html = '<p>The house is <b>very big</b>.</p><img src=x onerror="window.hacked=1">';
    await page.fill("#text", html);
    await page.click("#translate");
    await waitDone(page);
    const shown = (await page.locator("#output").textContent()) ?? "";
    const api = await postJson(server.url, "/translate", { text: html, source_lang: "en", target_lang: "es", format: "html" });
    assert.equal(api.status, 200);
    assert.equal(shown, api.json.translations[0].text);
    assert.match(shown, /^<p>.*<b>.*<\/b>.*<\/p><img src=x onerror="window.hacked=1">$/);
    assert.equal(await page.locator("#output b").count(), 0, "markup is shown as text, never parsed into the page");
    assert.equal(await page.evaluate(() => window.hacked), undefined);
  });
});

test("translate page: an unserved language with 'Detect language' shows the server's 400 message", opts, async () => {
  await withPage(browser, "translate-400", async (page) => {
    await openTranslate(page);
    await page.selectOption("#source", "auto");
    // Italian is not served: detection names it and refuses.
    await page.fill("#text", "Oggi andiamo al mare con gli amici.");
    await page.click("#translate");
    await page.waitForSelector("#error:not([hidden])");
    const msg = (await page.locator("#error").textContent()) ?? "";
    assert.match(msg, /^The request was refused: could not detect the source language/);
    assert.equal(await page.locator("#output").textContent(), "");
  });
});

test("translate page: detected language is named, swap moves languages and the translation across", opts, async () => {
  await withPage(browser, "translate-swap", async (page) => {
    await openTranslate(page);
    await page.selectOption("#source", "auto");
    await page.selectOption("#target", "en");
    await page.fill("#text", "Der Hund schläft unter dem Tisch und die Katze sitzt auf dem Fenster.");
    await page.click("#translate");
    await waitDone(page);
    assert.equal(await page.locator('#source option[value="auto"]').textContent(), "Detect language (German)");
    const english = (await page.locator("#output").textContent()) ?? "";
    assert.ok(english.length > 0);
    await page.click("#swap");
    assert.equal(await page.locator("#source").inputValue(), "en");
    assert.equal(await page.locator("#target").inputValue(), "de");
    assert.equal(await page.locator("#text").inputValue(), english);
    await waitDone(page);
    assert.ok(((await page.locator("#output").textContent()) ?? "").length > 0, "the swapped text is translated back");
  });
});

test("translate page: a server that requires API keys shows the key field; without a key 401, with it a translation", opts, async () => {
  const dbPath = join(tmp, "keys.sqlite");
  const reg = await openRegistry({ path: dbPath });
  const { key } = await createApiKey(reg.db, { name: "page test" });
  await reg.close();
  await server.scheduler()?.whenIdle();
  const keyed = await startServer({ settings: testSettings({ dbPath, requireKeys: true }), backend: await shared.get(), engineLookup: null });
  try {
    await keyed.ready;
    await withPage(browser, "translate-api-key", async (page) => {
      await page.goto(`${keyed.url}/`);
      await page.waitForSelector("body[data-ready=true]");
      await page.uncheck("#auto");
      assert.equal(await page.locator("#key-row").isVisible(), true);
      await page.selectOption("#source", "en");
      await page.selectOption("#target", "fr");
      await page.fill("#text", "The museum opens at nine in the morning.");
      await page.click("#translate");
      await page.waitForSelector("#error:not([hidden])");
      assert.match((await page.locator("#error").textContent()) ?? "", /^An API key is required: /);
      await page.fill("#apikey", key);
      await page.locator("#apikey").dispatchEvent("change");
      await page.click("#translate");
      await waitDone(page);
      assert.ok(((await page.locator("#output").textContent()) ?? "").length > 0);
      const stored = await page.evaluate(() => JSON.parse(window.localStorage.getItem("glossa.translate") ?? "{}").key);
      assert.equal(stored, key, "kept in this browser for the next visit");
    });
  } finally {
    await keyed.close(0);
  }
});

test("translate page: a .srt file goes through /translate_file and comes back with its numbers and timings", opts, async () => {
  await withPage(browser, "translate-file", async (page) => {
    await openTranslate(page);
    await page.selectOption("#source", "en");
    await page.selectOption("#target", "de");
    const srt = "1\n00:00:01,000 --> 00:00:02,500\nGood morning, everybody.\n\n2\n00:00:03,000 --> 00:00:05,000\nThe meeting starts at ten.\n";
    await page.setInputFiles("#file", { name: "meeting.srt", mimeType: "application/x-subrip", buffer: Buffer.from(srt) });
    await page.waitForSelector("#file-result:not([hidden])", { timeout: 60_000 });
    assert.ok(await page.locator("#error").isHidden(), (await page.locator("#error").textContent()) ?? "");
    const link = page.locator("#file-result a.download");
    assert.equal(await link.getAttribute("download"), "meeting.de.srt");
    const shown = (await page.locator("#output").textContent()) ?? "";
    const blocks = shown.trim().split(/\n\n/);
    assert.equal(blocks.length, 2, shown);
    assert.match(blocks[0]!, /^1\n00:00:01,000 --> 00:00:02,500\n\S/);
    assert.match(blocks[1]!, /^2\n00:00:03,000 --> 00:00:05,000\n\S/);
    assert.ok(!shown.includes("Good morning, everybody."), "the text lines are translated");
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const { readFileSync } = await import("node:fs");
    assert.equal(readFileSync((await download.path())!, "utf8"), shown, "the download is the file shown");
  });
});

test("translate page: a file of an unsupported type shows the server's refusal", opts, async () => {
  await withPage(browser, "translate-file-refused", async (page) => {
    await openTranslate(page);
    await page.selectOption("#source", "en");
    await page.setInputFiles("#file", { name: "slides.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4 not really") });
    await page.waitForSelector("#error:not([hidden])");
    assert.match((await page.locator("#error").textContent()) ?? "", /^(The request was refused|Unsupported file or content type): .+/);
  });
});

test("translate page: alternatives asked for are listed under the output; clicking one swaps it in", opts, async () => {
  await withPage(browser, "translate-alternatives", async (page) => {
    await openTranslate(page);
    assert.equal(await page.locator("#alts").isVisible(), true, "offered: the server advertises alternatives");
    await page.selectOption("#source", "en");
    await page.selectOption("#target", "es");
    await page.selectOption("#alts", "2");
    await page.fill("#text", "I would like a cup of coffee, please.");
    await page.click("#translate");
    await waitDone(page);
    const first = (await page.locator("#output").textContent()) ?? "";
    const alts = page.locator("#alternatives button.alt");
    const n = await alts.count();
    assert.ok(n >= 1 && n <= 2, `1-2 alternatives, got ${n}`);
    const other = (await alts.first().textContent()) ?? "";
    assert.notEqual(other, first);
    await alts.first().click();
    assert.equal(await page.locator("#output").textContent(), other);
    assert.ok((await page.locator("#alternatives button.alt").allTextContents()).includes(first), "the previous translation becomes an alternative");
  });
});

test("translate page: over the character limit the page refuses before sending and says the limit", opts, async () => {
  await withPage(browser, "translate-limit", async (page) => {
    await openTranslate(page);
    let posted = 0;
    page.on("request", (r) => {
      if (r.method() === "POST") posted++;
    });
    await page.selectOption("#source", "en");
    await page.fill("#text", "a ".repeat(15_001));
    assert.equal(await page.locator("#count").getAttribute("class"), "count over");
    await page.click("#translate");
    assert.equal(await page.locator("#error").textContent(), "The text has 30,002 characters; this server translates at most 30,000 at a time.");
    assert.equal(posted, 0);
  });
});

test("translate page: at phone width the panes stack and nothing scrolls sideways", opts, async () => {
  await withPage(
    browser,
    "translate-phone",
    async (page) => {
      await openTranslate(page);
      const src = await page.locator("#text").boundingBox();
      const out = await page.locator("#output").boundingBox();
      assert.ok(src && out);
      assert.ok(out.y >= src.y + src.height, `output below the text box (${out.y} vs ${src.y + src.height})`);
      assert.ok(out.width > 300, `output spans the width (${out.width}px)`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0);
      const button = await page.locator("#translate").boundingBox();
      assert.ok(button && button.x + button.width <= 390);
    },
    { width: 390, height: 844 },
  );
});

test("dashboard: fixture registry rows give engine statuses, gate reasons and per-pair delta charts", opts, async () => {
  await withPage(
    browser,
    "dashboard-fixture",
    async (page) => {
      await page.goto(`${server.url}/dashboard`);
      await page.waitForSelector("body[data-dashboard=ready]");
      const status = async (name: string) => page.locator(`#engines-table tr[data-engine="${name}"] .badge`).textContent();
      assert.equal(await status("glossa-mini-50/int8-de"), "released");
      assert.equal(await status("glossa-mini-50/awq-int4-de"), "revoked");
      assert.equal(await status("glossa-mini-50/awq-int4-sw"), "rejected");
      assert.equal(await status("glossa-mini-50/int8-sw"), "not gated");
      // One delta chart per calibrated engine, two bars (BLEU, chrF++) per gate reason.
      for (const [key, n] of Object.entries(fixture.reasons)) {
        const card = page.locator(`section.engine[data-engine="glossa-mini-50/${key}"]`);
        assert.equal(await card.locator('svg[data-chart="deltas"] rect.bar').count(), 2 * n, key);
      }
      // awq-int4-sw fails on tatoeba en-sw by 1.5 BLEU: exactly that bar is drawn in the failure colour.
      const sw = page.locator('section.engine[data-engine="glossa-mini-50/awq-int4-sw"]');
      const red = sw.locator('svg[data-chart="deltas"] rect.bar[fill="#c0362c"]');
      assert.equal(await red.count(), 1);
      assert.match((await red.locator("title").textContent()) ?? "", /^en-sw tatoeba \(first 200\): BLEU -1\.50/);
      const box = await red.boundingBox();
      assert.ok(box && box.width > 10, "the failing bar is visible");
      // The revoked engine's history: released by the first gate, revoked by the second.
      const history = page.locator('section.engine[data-engine="glossa-mini-50/awq-int4-de"] table.history tr');
      const kinds = await history.evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.kind));
      assert.deepEqual(kinds, ["revoked", "fail", "released", "pass"], "newest first");
      // Calibration profile: one bar per unit, coloured by the precision kept (INT4 purple, INT8 blue).
      const int4 = page.locator('section.engine[data-engine="glossa-mini-50/awq-int4-de"] svg[data-chart="sensitivity"] rect.bar');
      assert.equal(await int4.count(), fixture.profileUnits["awq-int4-de"]);
      const fills = await int4.evaluateAll((rects) => rects.map((r) => (r as unknown as { getAttribute(n: string): string }).getAttribute("fill")));
      assert.ok(fills.includes("#8250df") && fills.includes("#2f7bbf"), `INT4 and promoted INT8 units: ${[...new Set(fills)].join(",")}`);
      assert.match((await page.locator('section.engine[data-engine="glossa-mini-50/awq-int4-de"] details summary').allTextContents()).join(" "), /unit\(s\) kept at higher precision than int4-g128/);
      // Throughput by engine and batch: 3 engines x 3 batch sizes, greedy first; switching the mode redraws.
      const bars = page.locator('#throughput svg[data-chart="throughput"] rect.bar');
      assert.equal(await bars.count(), fixture.benchRows.greedy!.length);
      assert.match((await bars.first().locator("title").textContent()) ?? "", /^glossa-mini-50, batch 1: 182\.5 tokens\/s$/);
      await page.selectOption('#throughput select[aria-label="Decoding mode"]', "beam4");
      assert.match((await bars.first().locator("title").textContent()) ?? "", /^glossa-mini-50, batch 1: 61\.2 tokens\/s$/);
      const heights = await bars.evaluateAll((rects) => rects.map((r) => Number((r as unknown as { getAttribute(n: string): string }).getAttribute("height"))));
      assert.ok(heights.every((x) => x > 0) && Math.max(...heights) > 3 * Math.min(...heights), "bar heights follow the figures");
      // Filtering by language keeps only that language's cards.
      await page.selectOption("#filter-lang", "sw");
      assert.equal(await page.locator("section.engine").count(), 2);
    },
    { width: 1280, height: 900 },
  );
});

test("dashboard: without a registry the page says how to create runs", opts, async () => {
  await server.scheduler()?.whenIdle();
  const empty = await startServer({ settings: testSettings({ dbPath: join(tmp, "absent.sqlite") }), backend: await shared.get(), engineLookup: null });
  try {
    await empty.ready;
    await withPage(browser, "dashboard-empty", async (page) => {
      await page.goto(`${empty.url}/dashboard`);
      await page.waitForSelector("body[data-dashboard=empty]");
      const text = (await page.locator("[data-empty=true]").textContent()) ?? "";
      assert.match(text, /no registry yet/);
      assert.match(text, /npm run glossa -- eval --engine reference/);
      assert.match(text, /npm run glossa -- calibrate --lang de --recipe int8/);
    });
  } finally {
    await empty.close(0);
  }
});

test("dashboard live view: refreshes from /metrics without reloading and shows tokens/s after a translation", opts, async () => {
  await withPage(browser, "dashboard-live", async (page) => {
    await page.goto(`${server.url}/dashboard`);
    await page.waitForFunction(() => Number(document.body.dataset.live) >= 2, null, { timeout: 20_000 });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const free = Number(/^glossa_kv_blocks_free (\S+)$/m.exec(metrics)?.[1]);
    assert.ok(free > 0);
    assert.equal(await page.locator('[data-live="kv-free"] .v').textContent(), String(free));
    const a = await postJson(server.url, "/translate", { text: "We will meet at the market tomorrow morning.", source_lang: "en", target_lang: "fr" });
    assert.equal(a.status, 200);
    // The next poll sees the token counter grow: tokens/s > 0, without a reload (the navigation count stays 1).
    await page.waitForFunction(() => Number(document.querySelector('[data-live="tokens"] .v')?.textContent) > 0, null, { timeout: 20_000 });
    assert.equal(await page.evaluate(() => window.performance.getEntriesByType("navigation").length), 1);
    assert.ok((await page.locator('svg[data-chart="live-tokens"] polyline').count()) === 1);
  });
});
