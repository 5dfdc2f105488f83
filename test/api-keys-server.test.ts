/**
 * API keys end to end: `glossa keys create|list|revoke` (the built CLI), GLOSSA_REQUIRE_KEYS on every API family
 * (Glossa, LibreTranslate, DeepL shapes), exact counting under 64 concurrent clients, the admin key kept apart,
 * and CORS (GLOSSA_CORS_ORIGINS).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "../src/config.js";
import { parseCorsOrigins } from "../src/server/cors.js";
import { SettingsError } from "../src/server/settings.js";
import { openRegistry } from "../src/storage/db.js";
import { apiKeyUsageOf, createApiKey, findApiKey, usagePeriod } from "../src/storage/keys.js";
import { postForm, postJson, request, SharedBackend, skipWithoutModel } from "./helpers/api-server.js";

const CLI = join(repoRoot(), "dist", "src", "cli", "glossa.js");
const shared = new SharedBackend();
before(async () => {
  if (!skipWithoutModel) await shared.load();
});
after(() => shared.dispose());

function glossa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, GLOSSA_DB: "" } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("glossa keys", { skip: existsSync(CLI) ? false : `${CLI} is missing: run npm run build` }, () => {
  it("creates, lists and revokes keys; the registry keeps only digests", async () => {
    const db = join(shared.tmp, "cli-keys.sqlite");
    const created = glossa("keys", "create", "--name", "translator app", "--chars-per-month", "500000", "--requests-per-minute", "60", "--db", db);
    assert.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^glossa_[A-Za-z0-9_-]{32}$/);
    assert.match(created.stderr, /500000 characters\/month, 60 requests\/minute/);
    const json = glossa("keys", "create", "--name", "unlimited", "--json", "--db", db);
    assert.equal(json.status, 0, json.stderr);
    const second = JSON.parse(json.stdout) as { key: string; id: number; charsPerMonth: number | null };
    assert.equal(second.charsPerMonth, null);

    const reg = await openRegistry({ path: db });
    const row = await findApiKey(reg.db, key);
    assert.equal(row?.name, "translator app");
    assert.equal(row?.charsPerMonth, 500000);
    assert.equal(row?.requestsPerMinute, 60);
    const stored = reg.sqlite!.prepare("select * from api_keys").all() as Array<Record<string, unknown>>;
    assert.ok(stored.every((r) => !Object.values(r).includes(key)), "the key is not stored in clear");
    await reg.close();

    const list = glossa("keys", "list", "--db", db);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /translator app/);
    assert.match(list.stdout, /unlimited/);
    assert.ok(!list.stdout.includes(key), "list never shows a whole key");

    const revoked = glossa("keys", "revoke", String(second.id), "--db", db);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked key #\d+ "unlimited"/);
    const after = JSON.parse(glossa("keys", "list", "--json", "--db", db).stdout) as { keys: Array<{ name: string }> };
    assert.deepEqual(after.keys.map((k) => k.name), ["translator app"]);
    const all = JSON.parse(glossa("keys", "list", "--all", "--json", "--db", db).stdout) as { keys: Array<{ name: string; revokedAt: string | null }> };
    assert.equal(all.keys.length, 2);

    // Usage errors exit 2 with the usage; a missing key exits 1 naming it.
    assert.equal(glossa("keys", "create", "--db", db).status, 2);
    assert.equal(glossa("keys", "create", "--name", "x", "--chars-per-month", "-5", "--db", db).status, 2);
    assert.equal(glossa("keys", "frobnicate").status, 2);
    const missing = glossa("keys", "revoke", "9999", "--db", db);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no API key with id 9999/);
  });
});

describe("keys on every API family", { skip: skipWithoutModel }, () => {
  it("refuses missing and bad keys in each family's dialect; the admin key is not an API key", async () => {
    const dbPath = join(shared.tmp, "families.sqlite");
    const reg = await openRegistry({ path: dbPath });
    const { key } = await createApiKey(reg.db, { name: "ok" });
    await reg.close();
    await shared.withServer({ requireKeys: true, dbPath, adminKey: "admin-secret" }, async (base) => {
      const glossaBody = { text: "Hello", source_lang: "en", target_lang: "de" };
      const none = await postJson(`${base}/translate`, glossaBody);
      assert.equal(none.status, 401);
      assert.match(none.json.error, /API key is required/);
      assert.equal((await postJson(`${base}/translate`, glossaBody, { authorization: "Bearer glossa_wrong" })).status, 403);
      assert.equal((await postJson(`${base}/translate`, glossaBody, { authorization: "Bearer admin-secret" })).status, 403);
      assert.equal((await postJson(`${base}/translate`, glossaBody, { authorization: `Bearer ${key}` })).status, 200);

      // LibreTranslate: its own messages.
      const libre = { q: "Hello", source: "en", target: "de" };
      assert.deepEqual((await postJson(`${base}/translate`, libre)).json, { error: "Please contact the server operator to get an API key" });
      const wrong = await postJson(`${base}/translate`, { ...libre, api_key: "glossa_wrong" });
      assert.equal(wrong.status, 403);
      assert.deepEqual(wrong.json, { error: "Invalid API key" });
      assert.equal((await postJson(`${base}/translate`, { ...libre, api_key: key })).status, 200);
      assert.equal((await postForm(`${base}/translate`, [["q", "Hello"], ["source", "en"], ["target", "de"], ["api_key", key]])).status, 200);
      // The `libretranslate` npm client sends `apiKey`.
      assert.equal((await postJson(`${base}/translate`, { ...libre, apiKey: key })).status, 200);
      assert.equal((await postJson(`${base}/detect`, { q: "Hello" })).status, 400);
      assert.equal((await postJson(`${base}/detect`, { q: "Hello", api_key: key })).status, 200);
      // Public metadata needs no key.
      assert.equal((await request(`${base}/languages`)).status, 200);
      assert.equal((await request(`${base}/health`)).status, 200);
    });
  });

  it("counts exactly under 64 concurrent clients mixing the three API shapes", async () => {
    const dbPath = join(shared.tmp, "concurrent.sqlite");
    const reg = await openRegistry({ path: dbPath });
    // Room for exactly 25 requests of 10 characters.
    const budget = await createApiKey(reg.db, { name: "budget", charsPerMonth: 250 });
    const minute = await createApiKey(reg.db, { name: "minute", requestsPerMinute: 20 });
    await reg.close();
    const text = "0123456789";
    // Same source and target language: answered without the engine, so the test measures counting, not decoding.
    const send = (i: number, key: string) => {
      switch (i % 3) {
        case 0:
          return postJson(`${base}/translate`, { text, source_lang: "en", target_lang: "en" }, { authorization: `Bearer ${key}` });
        case 1:
          return postJson(`${base}/translate`, { q: text, source: "en", target: "en", api_key: key });
        default:
          return postForm(`${base}/v2/translate`, [["text", text], ["source_lang", "EN"], ["target_lang", "EN-US"]], { authorization: `DeepL-Auth-Key ${key}` });
      }
    };
    let base = "";
    await shared.withServer({ requireKeys: true, dbPath }, async (b) => {
      base = b;
      const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => send(i, budget.key)));
      const ok = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status !== 200);
      assert.equal(ok.length, 25);
      assert.ok(refused.every((a) => a.status === 429 || a.status === 456), JSON.stringify(refused.map((a) => a.status)));
      assert.ok(refused.some((a) => a.status === 456), "the DeepL shape answers 456");
      const usage = await request(`${base}/v2/usage`, { headers: { authorization: `DeepL-Auth-Key ${budget.key}` } });
      assert.deepEqual(usage.json, { character_count: 250, character_limit: 250 });

      const burst = await Promise.all(Array.from({ length: 64 }, (_, i) => send(i, minute.key)));
      assert.equal(burst.filter((a) => a.status === 200).length, 20);
      assert.ok(burst.filter((a) => a.status !== 200).every((a) => a.status === 429 && Number(a.headers.get("retry-after")) >= 1));
    });
    const check = await openRegistry({ path: dbPath });
    const period = usagePeriod(Date.now());
    assert.deepEqual(await apiKeyUsageOf(check.db, budget.row.id, period), { characters: 250, requests: 25 });
    assert.deepEqual(await apiKeyUsageOf(check.db, minute.row.id, period), { characters: 200, requests: 20 });
    await check.close();
  });

  it("gives the characters back when a translation fails", async () => {
    const dbPath = join(shared.tmp, "refund.sqlite");
    const reg = await openRegistry({ path: dbPath });
    const { key, row } = await createApiKey(reg.db, { name: "refund", charsPerMonth: 1000 });
    await reg.close();
    // A queue of 1 sentence: a 3-sentence request is refused (413) after its characters were charged.
    await shared.withServer({ requireKeys: true, dbPath, queueSize: 1, maxSegmentTokens: 8 }, async (base) => {
      const long = "The first sentence is here. The second one follows it. And a third one ends the text.";
      const a = await postJson(`${base}/translate`, { text: long, source_lang: "en", target_lang: "de" }, { authorization: `Bearer ${key}` });
      assert.equal(a.status, 413, JSON.stringify(a.json));
    });
    const check = await openRegistry({ path: dbPath });
    assert.equal((await apiKeyUsageOf(check.db, row.id, usagePeriod(Date.now()))).characters, 0);
    await check.close();
  });
});

describe("CORS", { skip: skipWithoutModel }, () => {
  it("allows any origin by default and answers preflights", async () => {
    await shared.withServer({}, async (base) => {
      const pre = await fetch(`${base}/translate`, {
        method: "OPTIONS",
        headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get("access-control-allow-origin"), "*");
      assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.match(pre.headers.get("access-control-allow-headers") ?? "", /Content-Type/i);
      assert.equal(pre.headers.get("access-control-max-age"), String(60 * 60 * 24 * 20));
      const deeplPre = await fetch(`${base}/v2/translate`, {
        method: "OPTIONS",
        headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
      });
      assert.equal(deeplPre.status, 204);
      assert.match(deeplPre.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
      const get = await fetch(`${base}/languages`, { headers: { origin: "https://app.example" } });
      assert.equal(get.headers.get("access-control-allow-origin"), "*");
      const err = await fetch(`${base}/translate`, { method: "POST", headers: { origin: "https://x.example", "content-type": "application/json" }, body: "{" });
      assert.equal(err.status, 400);
      assert.equal(err.headers.get("access-control-allow-origin"), "*", "errors carry CORS headers too, so a page can read them");
    });
  });

  it("allows only the configured origins, or none", async () => {
    await shared.withServer({ corsOrigins: "https://a.example, https://b.example:8443" }, async (base) => {
      const ok = await fetch(`${base}/languages`, { headers: { origin: "https://b.example:8443" } });
      assert.equal(ok.headers.get("access-control-allow-origin"), "https://b.example:8443");
      assert.match(ok.headers.get("vary") ?? "", /origin/i);
      const other = await fetch(`${base}/languages`, { headers: { origin: "https://evil.example" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
    });
    await shared.withServer({ corsOrigins: "none" }, async (base) => {
      const res = await fetch(`${base}/languages`, { headers: { origin: "https://a.example" } });
      assert.equal(res.headers.get("access-control-allow-origin"), null);
    });
  });

  it("refuses malformed origin lists", () => {
    assert.deepEqual(parseCorsOrigins("*"), { kind: "any" });
    assert.deepEqual(parseCorsOrigins("https://a.example/"), { kind: "list", origins: ["https://a.example"] });
    assert.throws(() => parseCorsOrigins("a.example"), SettingsError);
    assert.throws(() => parseCorsOrigins("https://a.example/path"), SettingsError);
  });
});
