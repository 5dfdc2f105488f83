/**
 * Routing to calibrated engines: the released engine built for a source language, if any.
 *
 * The server calls releasedEngineFor(db, srcLang) per request (or caches it per language and refreshes
 * after a gate decision): when it returns an engine row, the request goes to that engine (its file is
 * loaded with Engine.load({ modelDir, enginePath: row.file }) / openEngineTranslator(row)); when it
 * returns undefined, the request goes to the reference engine as today.
 */
import { releasedEngines } from "../storage/releases.js";
import type { DbOrTx } from "../storage/db.js";
import type { EngineRow } from "../storage/schema/models.js";

/** Smaller engines first among released ones for the same language: INT4 before INT8. */
const RECIPE_PREFERENCE = ["awq-int4", "int8"];

export async function releasedEngineFor(db: DbOrTx, srcLang: string): Promise<EngineRow | undefined> {
  const candidates = (await releasedEngines(db))
    .filter((r) => r.basis.kind === "release" && r.engine.language === srcLang && !r.engine.isReference)
    .map((r) => r.engine);
  if (candidates.length === 0) return undefined;
  const rank = (e: EngineRow): number => {
    const i = RECIPE_PREFERENCE.indexOf(e.recipe);
    return i < 0 ? RECIPE_PREFERENCE.length : i;
  };
  // Preferred recipe first, then the newest engine.
  return [...candidates].sort((a, b) => rank(a) - rank(b) || b.id - a.id)[0];
}
