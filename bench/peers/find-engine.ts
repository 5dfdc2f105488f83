/**
 * Finds a calibrated engine file in a folder by what its header says (engine files are named by their sha256):
 * language, recipe, LM head precision and, for AWQ-INT4, whether the INT4 layers run W4A8. Newest first.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

import { readEngineHeader } from "../../src/engine/engine-file.js";

export interface EngineWanted {
  lang: string;
  recipe: "int8" | "awq-int4";
  lmHead?: "f16" | "int8";
  /** awq-int4: true = W4A8 layers (the default build), false = W4A16 (--w4a16). */
  w4a8?: boolean;
}

export function findEngineFile(dir: string, want: EngineWanted): string | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".safetensors"));
  } catch {
    return undefined;
  }
  const found: Array<[number, string]> = [];
  for (const f of files) {
    const path = join(dir, f);
    try {
      const h = readEngineHeader(path);
      const m = h.metadata;
      if (m.language !== want.lang || m.recipe !== want.recipe || (m.lm_head ?? "f16") !== (want.lmHead ?? "f16")) continue;
      if (want.recipe === "awq-int4" && want.w4a8 !== undefined) {
        const a8 = Object.values(h.precision).some((p) => /^int4-g\d+-a8$/.test(p));
        if (a8 !== want.w4a8) continue;
      }
      found.push([statSync(path).mtimeMs, path]);
    } catch {
      // not an engine file, or another format: skip
    }
  }
  return found.sort((a, b) => b[0] - a[0])[0]?.[1];
}
