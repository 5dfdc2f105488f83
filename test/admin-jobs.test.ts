/**
 * Admin work off the event loop: POST /admin/calib-data/sample answers 202 with a job at once and draws the set in
 * a worker thread; while it runs /health keeps answering and translations keep going; the job's status, log and
 * result are at /admin/jobs/<id>; failures carry the status the synchronous route would have answered; admin
 * bodies get the server's size limit (413).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { calibAdminRoutes } from "../src/server/routes/calib-admin.js";
import { dePair, lengthOf, makeFakeCorpora } from "./calib-data-fixture.js";
import { modelSkip, postJson, SharedBackend } from "./helpers/http.js";

const backend = new SharedBackend();
const fx = makeFakeCorpora();
// Enough extra German text that building the candidate pool takes real CPU time (generated, not corpus text).
const bulkDe: string[] = [];
const bulkEn: string[] = [];
for (let i = 0; i < 40_000; i++) {
  const p = dePair(i, lengthOf(i), `Bulk ${i} `);
  bulkDe.push(p.de);
  bulkEn.push(p.en);
}
appendFileSync(join(fx.corpora, "train/en-de/bulk.de"), `${bulkDe.join("\n")}\n`);
appendFileSync(join(fx.corpora, "train/en-de/bulk.en"), `${bulkEn.join("\n")}\n`);
after(async () => {
  await backend.dispose();
  rmSync(fx.root, { recursive: true, force: true });
});

const KEY = "job-key";
const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

function runQueueWaitNs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, "utf8").split(" ")[1]);
  } catch {
    return undefined;
  }
}

interface Job {
  id: string;
  started_at?: string | null;
  finished_at?: string | null;
  status: string;
  kind: string;
  log: string[];
  result?: any;
  error?: { message: string; status: number };
}

/** The calibration admin routes on the fixture's registry and corpora, behind KEY, 4 KiB bodies. */
function adminRoutes(): ReturnType<typeof calibAdminRoutes> {
  return calibAdminRoutes({
    dbPath: fx.dbPath,
    corpora: fx.corpora,
    manifestDir: fx.manifestDir,
    evalDir: fx.evalDir,
    repoRoot: fx.repo,
    adminKey: KEY,
    settings: { adminKey: KEY, maxBodyBytes: 4096 },
  });
}

test("POST /admin/calib-data/sample is a job in a worker thread: 202 at once, /health and translation keep going", { skip: modelSkip, timeout: 600_000 }, async (t) => {
  const admin = adminRoutes();
  await backend.with(
    { adminKey: KEY, maxBodyBytes: 4096 },
    async (url) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/admin/calib-data/sample`, { method: "POST", headers: auth, body: JSON.stringify({ lang: "de", size: 64, seed: "jobs", name: "de-job" }) });
      const accepted = performance.now() - t0;
      assert.equal(res.status, 202, await res.clone().text());
      const job = (await res.json()) as Job;
      assert.equal(job.kind, "calib-data.sample");
      assert.ok(job.status === "queued" || job.status === "running");
      assert.equal(res.headers.get("location"), `/admin/jobs/${job.id}`);

      // While the job runs: /health (what the event loop is blocked by: wall time less run-queue waits of this
      // process's main thread, which serves and probes) and a translation.
      const lat: number[] = [];
      const translation = postJson(url, "/translate", { text: "The garden is green.", source_lang: "en", target_lang: "de" });
      let state: Job = job;
      let polls = 0;
      while (state.status === "queued" || state.status === "running") {
        const w0 = runQueueWaitNs();
        const h0 = performance.now();
        const h = await fetch(`${url}/health`);
        await h.text();
        const w1 = runQueueWaitNs();
        lat.push(performance.now() - h0 - (w0 !== undefined && w1 !== undefined ? (w1 - w0) / 1e6 : 0));
        assert.equal(h.status, 200);
        state = (await (await fetch(`${url}/admin/jobs/${job.id}`, { headers: auth })).json()) as Job;
        polls++;
        await new Promise((r) => setTimeout(r, 10));
      }
      const tr = await translation;
      assert.equal(tr.status, 200, "translation went on while the job ran");
      assert.equal(state.status, "succeeded", JSON.stringify(state.error));
      assert.equal(state.result.name, "de-job");
      assert.equal(state.result.size, 64);
      assert.ok(state.log.some((l) => /de-job: 64 members/.test(l)), state.log.join("\n"));
      assert.ok(polls >= 3, `the job ran long enough to be observed (${polls} polls)`);
      const sorted = [...lat].sort((a, b) => a - b);
      const p99 = sorted[Math.ceil(0.99 * sorted.length) - 1]!;
      t.diagnostic(`job ran ${state.started_at ?? ""} .. ${state.finished_at ?? ""}, ${polls} polls, /health p99 ${p99.toFixed(1)} ms without run-queue waits, POST answered in ${accepted.toFixed(0)} ms`);
      assert.ok(p99 < 50, `/health p99 ${p99.toFixed(1)} ms (without run-queue waits) while the job ran; POST answered in ${accepted.toFixed(0)} ms`);

      const sets = (await (await fetch(`${url}/admin/calib-data`, { headers: auth })).json()) as { sets: Array<{ name: string }> };
      assert.ok(sets.sets.some((s) => s.name === "de-job"));
      const list = (await (await fetch(`${url}/admin/jobs`, { headers: auth })).json()) as { jobs: Job[] };
      assert.equal(list.jobs[0]!.id, job.id);
    },
    { admin },
  );
});

test("admin jobs: input errors at once, work errors on the job with their status, bodies within the size limit", { skip: modelSkip, timeout: 300_000 }, async () => {
  const admin = adminRoutes();
  await backend.with(
    { adminKey: KEY },
    async (url) => {
      const post = (path: string, body: string) => fetch(`${url}/admin${path}`, { method: "POST", headers: auth, body });
      assert.equal((await post("/calib-data/sample", JSON.stringify({ lang: "xx" }))).status, 400);
      assert.equal((await post("/calib-data/sample", JSON.stringify({ lang: "de", size: -1 }))).status, 400);
      assert.equal((await post("/calib-data/sample", "{not json")).status, 400);
      const big = await post("/calib-data/sample", JSON.stringify({ lang: "de", name: "x".repeat(10_000) }));
      assert.equal(big.status, 413, "admin bodies get the same size limit as the rest");
      // A set of that name exists (unless the first test was skipped): the job fails with the 400 the route gave.
      const first = (await (await post("/calib-data/sample", JSON.stringify({ lang: "zh", size: 8, name: "zh-dup" }))).json()) as Job;
      const second = (await (await post("/calib-data/sample", JSON.stringify({ lang: "zh", size: 8, name: "zh-dup" }))).json()) as Job;
      const wait = async (id: string): Promise<Job> => {
        for (;;) {
          const j = (await (await fetch(`${url}/admin/jobs/${id}`, { headers: auth })).json()) as Job;
          if (j.status === "succeeded" || j.status === "failed") return j;
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      assert.equal((await wait(first.id)).status, "succeeded");
      const dup = await wait(second.id);
      assert.equal(dup.status, "failed");
      assert.equal(dup.error?.status, 400);
      assert.match(dup.error!.message, /exists/);
      assert.equal((await fetch(`${url}/admin/jobs/nope`, { headers: auth })).status, 404);
      assert.equal((await fetch(`${url}/admin/jobs/${first.id}`)).status, 401);
    },
    { admin },
  );
});
