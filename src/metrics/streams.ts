/** Shape checks for hypothesis / reference streams shared by the metrics. */
import { MetricInputError } from "./types.js";

/** One array per reference stream; `refs[k][i]` is the k-th reference of segment i, null if absent. */
export type ReferenceStreams = ReadonlyArray<ReadonlyArray<string | null>>;

export function checkStreams(fn: string, hyps: readonly string[], refs: ReferenceStreams): void {
  if (hyps.length === 0) throw new MetricInputError(`${fn}: no hypotheses given`);
  if (refs.length === 0) throw new MetricInputError(`${fn}: no reference streams given`);
  refs.forEach((stream, k) => {
    if (stream.length !== hyps.length) {
      throw new MetricInputError(
        `${fn}: reference stream ${k + 1} has ${stream.length} segments but there are ${hyps.length} hypotheses`,
      );
    }
  });
  hyps.forEach((h, i) => {
    if (typeof h !== "string") throw new MetricInputError(`${fn}: hypothesis ${i + 1} is not a string`);
  });
}

/** sacreBLEU's `nrefs`: the number of present references per segment, or "var" if it varies. */
export function countReferences(refs: ReferenceStreams, segments: number): number | "var" {
  const seen = new Set<number>();
  for (let i = 0; i < segments; i++) {
    let present = 0;
    for (const stream of refs) {
      const r = stream[i];
      if (r !== null && r !== undefined) present++;
    }
    seen.add(present);
  }
  return seen.size === 1 ? [...seen][0] ?? 0 : "var";
}
