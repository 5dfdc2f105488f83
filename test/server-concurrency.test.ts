/**
 * Continuous batching must not change greedy output: 72 requests sent at once (both shapes, several language
 * pairs, some with several texts) must each get exactly the answer their text gets when sent alone.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { modelDir } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server/server.js";
import { defaultSettings } from "../src/server/settings.js";

const MODEL = modelDir();
const skip = existsSync(join(MODEL, "config.json")) ? false : `no model at ${MODEL}`;

let server: RunningServer;

before(async () => {
  if (skip) return;
  server = await startServer({
    // No registry file: the reference engine serves everything, whatever the developer's var/ holds.
    settings: { ...defaultSettings(), port: 0, threads: 2, modelDir: MODEL, maxBatch: 32, dbPath: join(MODEL, "no-registry.sqlite") },
  });
  await server.ready;
});
after(async () => server?.close(0));

const SUBJECTS = ["My sister", "The teacher", "Our neighbour", "A small dog", "The old man", "Every student"];
const ACTIONS = ["reads a book", "drinks coffee", "walks to school", "likes the rain", "sings a song", "opens the window"];
const PAIRS: Array<[string, string]> = [["en", "de"], ["en", "fr"], ["en", "zh"], ["en", "es"], ["en", "ru"], ["en", "hi"]];
const MAX_NEW_TOKENS = 24;

interface Job {
  shape: "glossa" | "libre";
  texts: string[];
  source: string;
  target: string;
}

function jobs(): Job[] {
  const out: Job[] = [];
  for (let i = 0; i < 72; i++) {
    const [source, target] = PAIRS[i % PAIRS.length]!;
    const sentence = (k: number) => `${SUBJECTS[k % SUBJECTS.length]} ${ACTIONS[(k * 5 + 1) % ACTIONS.length]} every morning.`;
    const texts = i % 9 === 0 ? [sentence(i), sentence(i + 1)] : [sentence(i)];
    out.push({ shape: i % 2 === 0 ? "glossa" : "libre", texts, source, target });
  }
  return out;
}

async function run(job: Job): Promise<string[]> {
  const body =
    job.shape === "glossa"
      ? { text: job.texts, source_lang: job.source, target_lang: job.target, options: { max_new_tokens: MAX_NEW_TOKENS } }
      : { q: job.texts, source: job.source, target: job.target };
  const res = await fetch(`${server.url}/translate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { translations?: Array<{ text: string }>; translatedText?: string[]; error?: string };
  assert.equal(res.status, 200, json.error);
  return job.shape === "glossa" ? json.translations!.map((t) => t.text) : json.translatedText!;
}

test("72 concurrent requests get exactly the answers their texts get alone", { skip }, async () => {
  const all = jobs();
  // LibreTranslate has no options: give its requests the same max_new_tokens by sending them alone the same way.
  const alone = new Map<string, string>();
  const key = (j: Job, t: string) => `${j.shape}|${j.source}|${j.target}|${t}`;
  for (const j of all) {
    for (const t of j.texts) {
      if (!alone.has(key(j, t))) alone.set(key(j, t), (await run({ ...j, texts: [t] }))[0]!);
    }
  }
  const metricsBefore = await (await fetch(`${server.url}/metrics`)).text();
  const together = await Promise.all(all.map((j) => run(j)));
  together.forEach((answers, i) => {
    const j = all[i]!;
    assert.deepEqual(answers, j.texts.map((t) => alone.get(key(j, t))), `request ${i} (${j.shape} ${j.source}-${j.target})`);
  });
  // The concurrent run really shared steps: some step decoded more than one sequence.
  const metricsAfter = await (await fetch(`${server.url}/metrics`)).text();
  const single = (m: string) => Number(/^glossa_batch_size_bucket\{le="1"\} (\d+)$/m.exec(m)?.[1] ?? "0");
  const steps = (m: string) => Number(/^glossa_batch_size_count (\d+)$/m.exec(m)?.[1] ?? "0");
  const newSteps = steps(metricsAfter) - steps(metricsBefore);
  const newSingle = single(metricsAfter) - single(metricsBefore);
  assert.ok(newSteps > newSingle, `batched steps: ${newSteps - newSingle} of ${newSteps}`);
});
