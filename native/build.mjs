#!/usr/bin/env node
/**
 * Builds the native engine only when it is missing or out of date, and never leaves a half-built one in place.
 * It is the package's `install` step (npm ci, npm install, and the install npm 11's `npx` runs when it puts this
 * checkout into its cache): an up-to-date build is left untouched and the step takes milliseconds.
 *
 *   node native/build.mjs            build when out of date (prints why), else say it is up to date
 *   node native/build.mjs --force    build even when up to date
 *   node native/build.mjs --check    exit 0 when up to date, 1 when a build is needed (prints why); builds nothing
 *   node native/build.mjs --stamp    record the current build as up to date (after `node-gyp rebuild` by hand)
 *
 * Up to date means: native/build/Release/glossa_native.node exists and native/build/Release/glossa_native.stamp
 * records the fingerprint of everything the build depends on (binding.gyp, every file under native/src, Node's ABI,
 * platform and architecture, node-addon-api's version, and the compiler variables CC, CXX, CFLAGS, CXXFLAGS,
 * LDFLAGS and GLOSSA_NATIVE_*). A build runs in native/build-staging (a copy of binding.gyp pointing at ../src);
 * its .node file is copied next to the served one and renamed over it, then the stamp is written. Killing the build
 * at any moment leaves the previous engine and stamp as they were, so the next install simply builds again.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ENV_KEYS = ["CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS"];

function listFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function addonApiVersion(nativeDir) {
  try {
    const require = createRequire(join(nativeDir, "..", "package.json"));
    return JSON.parse(readFileSync(require.resolve("node-addon-api/package.json"), "utf8")).version;
  } catch {
    return "absent";
  }
}

/** sha256 over every input of the build; `parts` says what went in (for messages). */
export function fingerprint(nativeDir, env = process.env) {
  const h = createHash("sha256");
  const files = [join(nativeDir, "binding.gyp"), ...listFiles(join(nativeDir, "src"))].sort();
  for (const f of files) {
    h.update(relative(nativeDir, f)).update("\0").update(readFileSync(f)).update("\0");
  }
  const envVars = Object.keys(env)
    .filter((k) => ENV_KEYS.includes(k) || k.startsWith("GLOSSA_NATIVE_"))
    .sort()
    .map((k) => `${k}=${env[k]}`);
  const parts = {
    files: files.length,
    abi: process.versions.modules,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    nodeAddonApi: addonApiVersion(nativeDir),
    env: envVars,
  };
  h.update(JSON.stringify({ ...parts, node: undefined }));
  return { sha256: h.digest("hex"), parts };
}

export function paths(nativeDir) {
  const release = join(nativeDir, "build", "Release");
  return {
    release,
    addon: join(release, "glossa_native.node"),
    stamp: join(release, "glossa_native.stamp"),
    staging: join(nativeDir, "build-staging"),
  };
}

/** undefined when up to date, else the reason a build is needed. */
export function staleReason(nativeDir, env = process.env) {
  const p = paths(nativeDir);
  if (!existsSync(p.addon)) return `${relative(process.cwd(), p.addon) || p.addon} does not exist`;
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(p.stamp, "utf8"));
  } catch {
    return "no build stamp (built by hand, or by an older install step)";
  }
  const now = fingerprint(nativeDir, env);
  if (stamp.sha256 === now.sha256) return undefined;
  const was = stamp.parts ?? {};
  const changed = Object.keys(now.parts).filter((k) => k !== "files" && k !== "node" && JSON.stringify(was[k]) !== JSON.stringify(now.parts[k]));
  return changed.length ? `changed since the last build: ${changed.join(", ")}` : "native sources changed since the last build";
}

function writeAtomically(path, data) {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeStamp(nativeDir, env = process.env) {
  const p = paths(nativeDir);
  const f = fingerprint(nativeDir, env);
  writeAtomically(p.stamp, JSON.stringify({ ...f, builtAt: new Date().toISOString() }, null, 2) + "\n");
  return f;
}

/** node-gyp rebuild in the staging folder; returns the built .node path. Throws on failure. */
function nodeGypBuild(nativeDir, staging) {
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  // Same targets, paths pointing back at ../src (gyp resolves them from the .gyp file's folder).
  const gyp = readFileSync(join(nativeDir, "binding.gyp"), "utf8").replace(/"src\//g, '"../src/').replace(/"src"/g, '"../src"');
  writeFileSync(join(staging, "binding.gyp"), gyp);
  const require = createRequire(join(nativeDir, "..", "package.json"));
  let nodeGyp = process.env.npm_config_node_gyp;
  if (!nodeGyp || !existsSync(nodeGyp)) nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");
  // Under npm (the install step) npm's config, e.g. nodedir for offline Node headers, arrives as npm_config_*;
  // when this script runs on its own, ask npm for it once.
  const args = [nodeGyp, "rebuild", `--directory=${staging}`];
  if (!process.env.npm_config_nodedir) {
    const q = spawnSync("npm", ["config", "get", "nodedir"], { encoding: "utf8" });
    const dir = q.status === 0 ? q.stdout.trim() : "";
    if (dir && dir !== "null" && dir !== "undefined" && existsSync(dir)) args.push(`--nodedir=${dir}`);
  }
  const r = spawnSync(process.execPath, args, { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`node-gyp rebuild failed (exit ${r.status ?? r.signal})`);
  const built = join(staging, "build", "Release", "glossa_native.node");
  if (!existsSync(built)) throw new Error(`node-gyp finished but ${built} is missing`);
  return built;
}

/**
 * Builds with `build` (default node-gyp in the staging folder), then puts the result in place atomically and
 * stamps it. `build(nativeDir, stagingDir)` returns the path of the built .node file.
 */
export function buildAtomically(nativeDir, { build = nodeGypBuild, env = process.env } = {}) {
  const p = paths(nativeDir);
  const before = fingerprint(nativeDir, env);
  const built = build(nativeDir, p.staging);
  mkdirSync(p.release, { recursive: true });
  const tmp = `${p.addon}.tmp-${process.pid}`;
  copyFileSync(built, tmp);
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, p.addon);
  // Stamp what was built (sources edited during the build make the next run rebuild).
  writeAtomically(p.stamp, JSON.stringify({ ...before, builtAt: new Date().toISOString() }, null, 2) + "\n");
  rmSync(p.staging, { recursive: true, force: true });
}

function main(argv) {
  const nativeDir = resolve(dirname(fileURLToPath(import.meta.url)));
  const flags = new Set(argv);
  const unknown = argv.filter((a) => !["--force", "--check", "--stamp"].includes(a));
  if (unknown.length) {
    console.error(`native/build.mjs: unknown option ${unknown[0]} (use --force, --check or --stamp)`);
    return 2;
  }
  if (flags.has("--stamp")) {
    if (!existsSync(paths(nativeDir).addon)) {
      console.error("native/build.mjs: nothing to stamp: native/build/Release/glossa_native.node does not exist");
      return 1;
    }
    writeStamp(nativeDir);
    console.log("native engine: build recorded as up to date");
    return 0;
  }
  const reason = flags.has("--force") ? "--force" : staleReason(nativeDir);
  if (flags.has("--check")) {
    console.log(reason ? `native engine: build needed (${reason})` : "native engine: up to date");
    return reason ? 1 : 0;
  }
  if (!reason) {
    console.log("native engine: up to date (native/build/Release/glossa_native.node), not rebuilt");
    return 0;
  }
  console.log(`native engine: building (${reason}) ...`);
  const t0 = Date.now();
  buildAtomically(nativeDir);
  console.log(`native engine: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`native/build.mjs: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
