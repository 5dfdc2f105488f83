/**
 * Non-English pairs through the English pivot: the model folder decides which pairs are direct
 * (src/engine/directions.ts, models/glossa-mini-50/directions.json); /languages tells the truth; a pivoted answer
 * says so, equals the two passes done by hand, and both passes share one deadline and one cancel signal.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Directions, DirectionsError } from "../src/engine/directions.js";
import { LANGUAGES, resolveLanguage, type Language } from "../src/languages.js";
import type { SubmitOptions } from "../src/scheduler/scheduler.js";
import { LanguageDetector } from "../src/server/detect.js";
import { MODEL, modelSkip, postJson, SharedBackend } from "./helpers/http.js";

const lang = (iso: string): Language => resolveLanguage(iso)!;
const detector = await LanguageDetector.load();
const detectLanguage = (text: string) => detector.best(text);

test("the shipped model declares en<->xx direct and English as the pivot; other pairs route through it", () => {
  const d = Directions.fromModelDir(MODEL);
  assert.equal(d.pivot?.iso, "en");
  assert.ok(d.isDirect(lang("en"), lang("de")) && d.isDirect(lang("zh"), lang("en")));
  assert.ok(!d.isDirect(lang("de"), lang("fr")));
  assert.deepEqual(d.route(lang("de"), lang("fr"))?.hops.map((l) => l.iso), ["de", "en", "fr"]);
  assert.deepEqual(d.route(lang("en"), lang("sw"))?.hops.map((l) => l.iso), ["en", "sw"]);
  assert.equal(d.route(lang("de"), lang("en"))?.pivot, undefined);
  for (const l of LANGUAGES) {
    assert.equal(d.targets(l).length, LANGUAGES.length - 1, `${l.iso} reaches every other language`);
    assert.deepEqual(d.directTargets(l).map((t) => t.iso), l.iso === "en" ? LANGUAGES.filter((t) => t.iso !== "en").map((t) => t.iso) : ["en"]);
  }
});

test("a model folder without directions.json is many-to-many (mBART-50): every pair direct; invalid files are refused naming the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "glossa-directions-"));
  try {
    const d = Directions.fromModelDir(dir);
    assert.ok(d.isDirect(lang("de"), lang("fr")) && d.isDirect(lang("zh"), lang("ar")));
    assert.equal(d.route(lang("es"), lang("ru"))?.pivot, undefined);
    const file = join(dir, "directions.json");
    for (const bad of ['{"direct": "en-de"}', '{"direct": ["en-xx"]}', '{"direct": ["en-de"], "pivot": "tlh"}', "not json", '["en-de"]']) {
      writeFileSync(file, bad);
      assert.throws(() => Directions.fromModelDir(dir), (e: unknown) => e instanceof DirectionsError && e.message.includes(file), bad);
    }
    // Only some pairs and no pivot: the others cannot be served at all.
    writeFileSync(file, JSON.stringify({ direct: ["en-de", "de-en"] }));
    const few = Directions.fromModelDir(dir);
    assert.equal(few.route(lang("de"), lang("fr")), undefined);
    assert.deepEqual(few.targets(lang("de")).map((l) => l.iso), ["en"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const backend = new SharedBackend();
after(() => backend.dispose());

async function translate(url: string, text: string | string[], source: string, target: string, options?: object) {
  const a = await postJson(url, "/translate", { text, source_lang: source, target_lang: target, ...(options ? { options } : {}) });
  assert.equal(a.status, 200, JSON.stringify(a.json));
  return a.json as { translations: Array<{ text: string }>; pivot?: string };
}

test("HTTP: non-English pairs answer in the target language through English, and say so", { skip: modelSkip }, async () => {
  await backend.with({}, async (url) => {
    const cases: Array<[string, string, string, RegExp | string]> = [
      ["Der Hund schläft unter dem Tisch. Die Katze ist auf dem Stuhl.", "de", "fr", "fr"],
      ["La casa es muy grande y tiene un jardín bonito.", "es", "ru", /\p{Script=Cyrillic}/u],
      ["我喜欢喝茶，也喜欢读书。", "zh", "ar", /\p{Script=Arabic}/u],
      ["Le chat est sur la table et le chien dort.", "fr", "de", "de"],
    ];
    for (const [text, src, tgt, expect] of cases) {
      const a = await translate(url, text, src, tgt);
      const out = a.translations[0]!.text;
      assert.equal(a.pivot, "en", `${src}->${tgt} says it pivoted`);
      if (typeof expect === "string") assert.equal(detectLanguage(out)?.language.iso, expect, `${src}->${tgt}: ${out}`);
      else assert.match(out, expect, `${src}->${tgt}: ${out}`);
      // Two passes by hand give the same text (greedy decoding is deterministic).
      const english = (await translate(url, text, src, "en")).translations[0]!.text;
      const byHand = (await translate(url, english, "en", tgt)).translations[0]!.text;
      assert.equal(out, byHand, `${src}->${tgt} equals ${src}->en->${tgt}`);
    }
    const direct = await translate(url, "The dog sleeps.", "en", "de");
    assert.equal(direct.pivot, undefined, "a direct pair does not pivot");
    const libre = await postJson(url, "/translate", { q: ["Der Hund schläft."], source: "de", target: "es" });
    assert.equal(libre.json.pivot, "en");
    assert.equal(detectLanguage(libre.json.translatedText[0])?.language.iso, "es", libre.json.translatedText[0]);
  });
});

test("HTTP: lines and structure survive the pivot; /languages lists direct targets and the pivot", { skip: modelSkip }, async () => {
  await backend.with({}, async (url) => {
    const a = await translate(url, "  Der Hund schläft.\n\nDie Katze spielt.", "de", "fr");
    const out = a.translations[0]!.text;
    assert.match(out, /^ {2}\S[^\n]*\n\n\S[^\n]*$/u, JSON.stringify(out));
    const langs = (await (await fetch(`${url}/languages`)).json()) as Array<{ code: string; targets: string[]; direct_targets: string[]; pivot: string | null }>;
    const de = langs.find((l) => l.code === "de")!;
    assert.deepEqual(de.direct_targets, ["en"]);
    assert.equal(de.pivot, "en");
    assert.ok(de.targets.includes("fr") && de.targets.includes("zh") && !de.targets.includes("de"));
    const en = langs.find((l) => l.code === "en")!;
    assert.equal(en.pivot, null);
    assert.equal(en.direct_targets.length, 9);
  });
});

test("HTTP: both passes share one deadline and one cancel signal", { skip: modelSkip }, async () => {
  await backend.with({}, async (url, server) => {
    const scheduler = server.scheduler()!;
    const seen: Array<{ at: number; done: number; options: SubmitOptions; size: number }> = [];
    const submit = scheduler.submit.bind(scheduler);
    scheduler.submit = (requests, options = {}) => {
      const entry = { at: performance.now(), done: Number.NaN, options, size: requests.length };
      seen.push(entry);
      const pending = submit(requests, options);
      // Registered before the caller's own reactions: runs first when the pass settles.
      pending.then(
        () => (entry.done = performance.now()),
        () => (entry.done = performance.now()),
      );
      return pending;
    };
    await translate(url, "Der alte Mann geht langsam am Strand entlang.", "de", "fr", { timeout_ms: 60_000 });
    assert.equal(seen.length, 2, "two passes");
    const [first, second] = seen as [(typeof seen)[0], (typeof seen)[0]];
    assert.strictEqual(first.options.signal, second.options.signal, "one cancel signal for both passes");
    assert.ok(first.options.timeoutMs! <= 60_000);
    // The second pass gets what is left of the same deadline, not a fresh one. Exactly, whatever the load: the
    // first pass's time left was computed before `first.at`, the second's after the first pass settled
    // (`first.done`), both from one deadline, so they differ by at least first.done - first.at.
    assert.ok(
      first.options.timeoutMs! - second.options.timeoutMs! >= first.done - first.at,
      `first pass ${first.options.timeoutMs} ms left, second ${second.options.timeoutMs} ms; the first pass ran ${first.done - first.at} ms`,
    );

    // A client that goes away during the first pass: the second pass is never queued, the blocks are freed.
    seen.length = 0;
    const ac = new AbortController();
    const long = Array.from({ length: 16 }, (_, i) => `Geschichte ${i}: Der alte Fischer ging langsam am Strand entlang und sah die Boote, die Vögel und die Wolken.`);
    const req = fetch(`${url}/translate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: long, source_lang: "de", target_lang: "fr" }),
      signal: ac.signal,
    }).then(() => "answered", () => "aborted");
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    assert.equal(await req, "aborted");
    await scheduler.whenIdle();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, 1, "no second pass after the cancel");
    assert.equal(scheduler.poolStats().usedBlocks, 0);
  });
});

test("the engine's Translator (evaluation) pivots too; 'direct' forces one pass", { skip: modelSkip }, async () => {
  const { Translator } = await import("../src/engine/translator.js");
  const t = await Translator.load({ modelDir: MODEL, threads: 2 });
  try {
    const src = ["Der Hund schläft unter dem Tisch."];
    const [pivoted] = await t.translate(src, lang("de"), lang("fr"));
    const [english] = await t.translate(src, lang("de"), lang("en"));
    const [byHand] = await t.translate([english!], lang("en"), lang("fr"));
    assert.equal(pivoted, byHand);
    assert.equal(detectLanguage(pivoted!)?.language.iso, "fr", pivoted);
    const [direct] = await t.translate(src, lang("de"), lang("fr"), {}, "direct");
    assert.notEqual(direct, pivoted, "one pass de->fr is what the model was never trained on");
  } finally {
    await t.close();
  }
});
