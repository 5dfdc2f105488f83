/**
 * The container files (Dockerfile, .dockerignore, compose.yaml, deploy/prometheus/prometheus.yml), checked without a
 * Docker engine: hadolint's rules that apply here, every COPY source present in the repository and not excluded from
 * the build context, the image's command equal to `npm start`'s, and the HEALTHCHECK command run against a server
 * answering /ready with 200 and then 503.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../src/config.js";

const ROOT = repoRoot();
const run = promisify(execFile);

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile instructions: continuation lines joined, comments dropped (hadolint ignore comments kept as ops). */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    const ignore = /^#\s*hadolint ignore=([\w,]+)/.exec(l.trim());
    if (ignore) {
      out.push({ op: "#IGNORE", args: ignore[1]!, line: i + 1 });
      continue;
    }
    if (l.trim() === "" || l.trim().startsWith("#")) continue;
    while (l.endsWith("\\") && i + 1 < lines.length) l = `${l.slice(0, -1)} ${lines[++i]!.trim()}`;
    const m = /^\s*(\w+)\s+(.*)$/.exec(l);
    assert.ok(m, `Dockerfile line ${start + 1}: not an instruction`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

/** .dockerignore semantics for the patterns used here: last matching pattern wins; "dir/" and "**" match below. */
export function ignoredByDockerignore(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const neg = raw.startsWith("!");
    const p = (neg ? raw.slice(1) : raw).replace(/^\/+/, "").replace(/\/+$/, "");
    const re = new RegExp(`^${p.split("**").map((s) => s.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")).join(".*")}(/.*)?$`);
    if (re.test(path.replace(/\/+$/, ""))) ignored = !neg;
  }
  return ignored;
}

function dockerignore(): string[] {
  return readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

/** hadolint's rules that apply to these files (DL3000-DL4006 subset), plus Glossa's own requirements. */
export function lintDockerfile(file: string): { problems: string[]; stages: Instruction[][]; argDefaults: Map<string, string> } {
  const ins = parseDockerfile(readFileSync(file, "utf8"));
  const problems: string[] = [];
  const ignores = new Map<number, string[]>();
  ins.forEach((x, i) => x.op === "#IGNORE" && ignores.set(i + 1, x.args.split(",")));
  const flag = (i: number, rule: string, msg: string) => {
    if (!(ignores.get(i) ?? []).includes(rule)) problems.push(`${file}:${ins[i]!.line} ${rule} ${msg}`);
  };
  const argDefaults = new Map<string, string>();
  const stages: Instruction[][] = [];
  const stageNames = new Set<string>();
  let shellPipefail = false;
  ins.forEach((x, i) => {
    if (x.op === "#IGNORE") return;
    if (x.op === "ARG") {
      const eq = x.args.indexOf("=");
      if (eq > 0) argDefaults.set(x.args.slice(0, eq), x.args.slice(eq + 1).replace(/^"(.*)"$/, "$1"));
    }
    if (x.op === "FROM") {
      stages.push([]);
      const [ref, as, name] = x.args.split(/\s+/);
      const image = ref!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => argDefaults.get(a ?? b) ?? "");
      if (!stageNames.has(image) && !/^[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/.test(image)) flag(i, "DL3006", `image ${image} has no tag`);
      if (/:latest$/.test(image)) flag(i, "DL3007", `image ${image} uses latest`);
      if (as?.toUpperCase() === "AS" && name) stageNames.add(name);
    }
    stages.at(-1)?.push(x);
    if (x.op === "WORKDIR" && !x.args.startsWith("/")) flag(i, "DL3000", "WORKDIR must be absolute");
    if (x.op === "ADD" && !/^(https?:|--)/.test(x.args)) flag(i, "DL3020", "use COPY for files and folders");
    if (x.op === "MAINTAINER") flag(i, "DL4000", "MAINTAINER is deprecated");
    if (x.op === "SHELL" && /pipefail/.test(x.args)) shellPipefail = true;
    if ((x.op === "CMD" || x.op === "ENTRYPOINT") && !x.args.startsWith("[")) flag(i, "DL3025", `${x.op} must use the JSON form`);
    if (x.op === "RUN") {
      const cmd = x.args;
      if (/(^|&&|;)\s*cd\s/.test(cmd)) flag(i, "DL3003", "use WORKDIR instead of cd");
      if (/\bsudo\b/.test(cmd)) flag(i, "DL3004", "do not use sudo");
      if (/apt-get\s+(upgrade|dist-upgrade)/.test(cmd)) flag(i, "DL3005", "do not upgrade in the image");
      if (/apt-get install/.test(cmd)) {
        if (!/--no-install-recommends/.test(cmd)) flag(i, "DL3015", "apt-get install without --no-install-recommends");
        if (!/install\s+(-\w*y|.*\s-y\b|.*--yes)/.test(cmd)) flag(i, "DL3014", "apt-get install without -y");
        if (!/rm -rf \/var\/lib\/apt\/lists/.test(cmd)) flag(i, "DL3009", "delete the apt lists in the same RUN");
        if (/apt-get install[^&]*\s[a-z0-9.+-]+\s/.test(cmd) && !/=/.test(cmd)) flag(i, "DL3008", "pin apt package versions");
      }
      if (/\|(?!\|)/.test(cmd.replace(/\|\|/g, "")) && !shellPipefail) flag(i, "DL4006", "set -o pipefail (SHELL) before RUN with a pipe");
      if (/\bnpm install\b/.test(cmd)) flag(i, "DL3016", "use npm ci with the lock file");
    }
  });
  const last = stages.at(-1) ?? [];
  const user = last.filter((x) => x.op === "USER").at(-1);
  if (!user || /^(root|0)(:|$)/.test(user.args)) problems.push(`${file}: DL3002 the final stage must switch to a non-root USER`);
  if (stages.length < 2) problems.push(`${file}: not multi-stage`);
  if (!last.some((x) => x.op === "HEALTHCHECK")) problems.push(`${file}: no HEALTHCHECK in the final stage`);
  return { problems, stages, argDefaults };
}

function copySources(stages: Instruction[][]): string[] {
  const out: string[] = [];
  for (const s of stages)
    for (const x of s) {
      if (x.op !== "COPY" || /--from=/.test(x.args)) continue;
      const parts = x.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      out.push(...parts.slice(0, -1));
    }
  return out;
}

function healthcheckScript(stages: Instruction[][]): string[] {
  const hc = stages.at(-1)!.find((x) => x.op === "HEALTHCHECK")!;
  const json = hc.args.slice(hc.args.indexOf("CMD") + 3).trim();
  return JSON.parse(json) as string[];
}

const DOCKERFILES = ["Dockerfile", "deploy/cuda/Dockerfile"];

for (const dockerfile of DOCKERFILES) test(`${dockerfile}: hadolint's rules, multi-stage, non-root, HEALTHCHECK on /ready, npm start's command`, () => {
  const { problems, stages } = lintDockerfile(join(ROOT, dockerfile));
  assert.deepEqual(problems, []);
  const final = stages.at(-1)!;
  const cmd = JSON.parse(final.find((x) => x.op === "CMD")!.args) as string[];
  const start = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.start!;
  assert.equal(cmd.join(" "), start, "the image runs what npm start runs");
  assert.match(healthcheckScript(stages).join(" "), /\/ready/);
  assert.ok(final.some((x) => x.op === "COPY" && x.args.includes("models/glossa-mini-50")), "the shipped model is inside");
  // src/engine/native.ts loads native/build/Release/glossa_native.node from the folder holding native/binding.gyp.
  const buildRun = stages.find((s) => s.some((x) => x.op === "RUN" && /npm ci/.test(x.args)))!.filter((x) => x.op === "RUN").map((x) => x.args).join(" ");
  assert.match(buildRun, /cp native\/build\/Release\/glossa_native\.node \/out\/native\/build\/Release\//);
  assert.match(buildRun, /cp native\/binding\.gyp \/out\/native\//);
  assert.ok(final.some((x) => x.op === "ENV" && /GLOSSA_HOST=0\.0\.0\.0/.test(x.args)), "listens on all interfaces inside the container");
});

for (const dockerfile of DOCKERFILES) test(`${dockerfile}: every COPY source exists and is inside the build context (.dockerignore)`, () => {
  const { stages } = lintDockerfile(join(ROOT, dockerfile));
  const patterns = dockerignore();
  const sources = copySources(stages);
  assert.ok(sources.length >= 8);
  for (const s of sources) {
    assert.ok(existsSync(join(ROOT, s)), `${s} exists`);
    assert.equal(ignoredByDockerignore(patterns, s.replace(/\/$/, "")), false, `${s} is in the build context`);
  }
  // What must stay out: build outputs, registries, engine files, dependencies.
  for (const p of ["node_modules", "dist", "native/build", "var", "var/glossa.sqlite", "test-results", ".git", "models/other"]) {
    assert.equal(ignoredByDockerignore(patterns, p), true, `${p} is excluded`);
  }
  assert.equal(ignoredByDockerignore(patterns, "native/src/core/half.h"), false);
  assert.equal(ignoredByDockerignore(patterns, "native/build/Release/glossa_native.node"), true);
});

test("deploy/cuda: the engine must have the CUDA backend compiled in, the server computes on the GPU", () => {
  const { stages } = lintDockerfile(join(ROOT, "deploy", "cuda", "Dockerfile"));
  const build = stages.find((s) => s.some((x) => x.op === "RUN" && /npm ci/.test(x.args)))!;
  const from = build[0]!.args;
  assert.match(from, /^nvidia\/cuda:\$\{CUDA_VERSION\}-devel-/, "built where nvcc and libcudart_static.a are (native/cuda.sh)");
  assert.match(build.filter((x) => x.op === "RUN").map((x) => x.args).join(" "), /cudaStatus\(\)\.compiled/);
  const final = stages.at(-1)!;
  assert.match(final[0]!.args, /^nvidia\/cuda:\$\{CUDA_VERSION\}-runtime-/, "the runtime image carries libcublas (opened at run time)");
  assert.ok(final.some((x) => x.op === "ENV" && /GLOSSA_DEVICE=cuda/.test(x.args)));
  const override = readFileSync(join(ROOT, "deploy", "cuda", "compose.yaml"), "utf8");
  assert.match(override, /dockerfile: deploy\/cuda\/Dockerfile/);
  assert.match(override, /driver: nvidia/);
});

test("the hadolint subset catches what it should", () => {
  const dir = mkdtempSync(join(tmpdir(), "glossa-docker-"));
  const bad = join(dir, "Dockerfile");
  writeFileSync(bad, "FROM node:latest\nRUN cd /app && apt-get update && apt-get install curl\nADD src/ /app/\nCMD node x.js\n");
  const { problems } = lintDockerfile(bad);
  const rules = problems.map((p) => /\b(DL\d{4})\b/.exec(p)?.[1] ?? p.split(": ").at(-1));
  for (const r of ["DL3007", "DL3003", "DL3015", "DL3014", "DL3009", "DL3020", "DL3025", "DL3002"]) assert.ok(rules.includes(r), `${r} in ${JSON.stringify(problems)}`);
  writeFileSync(bad, "FROM debian AS base\nFROM base\nUSER app\nHEALTHCHECK CMD [\"true\"]\n");
  assert.deepEqual(lintDockerfile(bad).problems.map((p) => /\b(DL\d{4})\b/.exec(p)?.[1]), ["DL3006"], "an untagged image, but a stage name is fine");
  rmSync(dir, { recursive: true, force: true });
});

test("HEALTHCHECK's command exits 0 when /ready answers 200 and 1 when it answers 503 or nothing listens", async () => {
  const { stages } = lintDockerfile(join(ROOT, "Dockerfile"));
  const [bin, ...args] = healthcheckScript(stages);
  assert.equal(bin, "node");
  let ready = false;
  const srv = createServer((req, res) => {
    res.statusCode = req.url === "/ready" && ready ? 200 : 503;
    res.end("{}");
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  const check = async (p: number) =>
    run(process.execPath, args, { env: { ...process.env, PORT: String(p) } }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
  try {
    assert.equal(await check(port), 1, "503 while loading");
    ready = true;
    assert.equal(await check(port), 0, "200 once ready");
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
  assert.equal(await check(port), 1, "nothing listening");
});

test("compose.yaml: Glossa's port is the one Prometheus scrapes; the Prometheus config it mounts exists", () => {
  const compose = readFileSync(join(ROOT, "compose.yaml"), "utf8");
  const prom = readFileSync(join(ROOT, "deploy", "prometheus", "prometheus.yml"), "utf8");
  const { stages } = lintDockerfile(join(ROOT, "Dockerfile"));
  const exposed = stages.at(-1)!.find((x) => x.op === "EXPOSE")!.args;
  assert.match(compose, new RegExp(`"${exposed}:${exposed}"`));
  assert.match(prom, new RegExp(`targets: \\["glossa:${exposed}"\\]`));
  assert.match(prom, /metrics_path: \/metrics/);
  assert.match(compose, /^\s{2}glossa:\s*$/m, "service named glossa (the scrape target's host)");
  const mount = /- \.\/(deploy\/prometheus\/prometheus\.yml):/.exec(compose);
  assert.ok(mount && existsSync(join(ROOT, mount[1]!)));
  assert.match(compose, /condition: service_healthy/, "Prometheus starts once the HEALTHCHECK passes");
  assert.doesNotMatch(compose, /image: [^\s:]+(:latest)?\s*$/m, "images are tagged");
});

/** promtool from PATH or var/tools/bin (where .ci/run unpacks it); undefined when absent. */
function promtool(): string | undefined {
  const local = join(ROOT, "var", "tools", "bin", "promtool");
  if (existsSync(local)) return local;
  const found = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : undefined;
}

test("deploy/prometheus/prometheus.yml passes promtool check config", (t) => {
  const tool = promtool();
  if (!tool) {
    t.skip("promtool is not installed (bash .ci/run fetches it into var/tools/bin)");
    return;
  }
  const r = spawnSync(tool, ["check", "config", join(ROOT, "deploy", "prometheus", "prometheus.yml")], { encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout + r.stderr, /SUCCESS/);
});
