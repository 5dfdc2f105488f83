/**
 * What the calibration pipeline (statistics pass, quantizers) needs from curation: a set's sentences,
 * with their aligned references for teacher forcing, read from the corpora and sha256-verified.
 *
 *   const { manifest, sentences } = loadCalibrationSet("de");   // calib-data/de.json
 *   // sentences[i].text: German (encoder side); sentences[i].target?.text: English (decoder side)
 *   // manifest.setHash identifies the set in engine metadata.
 */
import { join } from "node:path";
import { corporaDir } from "../../config.js";
import { calibManifestDir } from "./context.js";
import { checkSetName, readManifestText } from "./service.js";
import type { CalibManifest } from "./manifest.js";
import type { CalibSentence } from "./verify.js";

export type { CalibManifest } from "./manifest.js";
export type { CalibSentence } from "./verify.js";
export { CorpusChangedError, CalibDataError } from "./errors.js";

/**
 * Loads calib-data/<name>.json (a language's default set is named after its ISO code) and re-reads its
 * text. Throws CorpusChangedError when any line's sha256 differs from the manifest.
 */
export function loadCalibrationSet(
  name: string,
  opts: { manifestDir?: string; corpora?: string } = {},
): { manifest: CalibManifest; sentences: CalibSentence[] } {
  const file = join(opts.manifestDir ?? calibManifestDir(), `${checkSetName(name)}.json`);
  return readManifestText(opts.corpora ?? corporaDir(), file);
}
