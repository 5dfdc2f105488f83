import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, describe, it } from "node:test";
import { ConfigError, corporaDir, dbPath, evalDir, migrationsDir, modelDir, repoRoot } from "../src/config.js";

const saved = { ...process.env };
afterEach(() => {
  for (const k of ["GLOSSA_CORPORA", "GLOSSA_DB", "GLOSSA_MODEL", "GLOSSA_EVAL_DIR"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe("config", () => {
  it("finds the repository root from src/ and from dist/src/", () => {
    const root = repoRoot();
    assert.equal((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string }).name, "glossa");
    assert.ok(existsSync(join(root, "src", "config.ts")));
    assert.equal(migrationsDir(), join(root, "migrations"));
    assert.ok(existsSync(join(migrationsDir(), "meta", "_journal.json")));
  });

  it("defaults paths under the repository", () => {
    for (const k of ["GLOSSA_DB", "GLOSSA_MODEL", "GLOSSA_EVAL_DIR"]) delete process.env[k];
    assert.equal(dbPath(), join(repoRoot(), "var", "glossa.sqlite"));
    assert.equal(modelDir(), join(repoRoot(), "models", "glossa-mini-50"));
    assert.equal(evalDir(), join(repoRoot(), "eval"));
  });

  it("takes every path from its environment variable, resolved against the working directory", () => {
    process.env.GLOSSA_DB = "some/dir/x.sqlite";
    process.env.GLOSSA_MODEL = "/models/other";
    process.env.GLOSSA_EVAL_DIR = "/tmp/evalx";
    process.env.GLOSSA_CORPORA = "/data/corpora";
    assert.equal(dbPath(), resolve("some/dir/x.sqlite"));
    assert.equal(modelDir(), "/models/other");
    assert.equal(evalDir(), "/tmp/evalx");
    assert.equal(corporaDir(), "/data/corpora");
  });

  it("treats an empty variable as unset", () => {
    process.env.GLOSSA_DB = "  ";
    assert.equal(dbPath(), join(repoRoot(), "var", "glossa.sqlite"));
  });

  it("uses ../shared/corpora when it exists, and says how to fix it otherwise", () => {
    delete process.env.GLOSSA_CORPORA;
    const sibling = resolve(repoRoot(), "..", "shared", "corpora");
    if (existsSync(sibling)) assert.equal(corporaDir(), sibling);
    else assert.throws(() => corporaDir(), (e: unknown) => e instanceof ConfigError && /set GLOSSA_CORPORA/.test(e.message));
  });
});
