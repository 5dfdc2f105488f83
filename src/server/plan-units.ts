/**
 * Cutting translation units (texts, HTML runs, attribute values) into segments and tokenizing them: the CPU-heavy
 * part of preparing a request, written once for both places it runs: a tokenizer worker thread
 * (src/server/tokenize-worker.ts, for long inputs) and the event loop (short inputs, in ~10 ms slices).
 */
import { planText, SegmentLimitError, type Pause, type SegmentBudget, type TextPlan } from "./segment.js";

export interface PlanTask {
  units: string[];
  /** mBART code of the source language. */
  srcCode: string;
  /** Source tokens (with language code and </s>) above which a line is split. */
  segmentTokens: number;
  /** Most segments over all units; planning stops past it. */
  maxSegments: number;
}

export type PlanOutcome =
  | { ok: true; plans: TextPlan[]; ids: Int32Array[] }
  | { ok: false; error: "too_many_segments"; limit: number }
  | { ok: false; error: "tokenizer"; message: string };

export interface PlanTokenizer {
  encodeSource(text: string, srcMbartCode: string, maxTokens?: number): Int32Array;
}

export async function planUnits(tokenizer: PlanTokenizer, task: PlanTask, pause?: Pause): Promise<PlanOutcome> {
  const { srcCode, segmentTokens } = task;
  const encode = (s: string, maxTokens: number) => tokenizer.encodeSource(s, srcCode, maxTokens);
  // Encoded with one token to spare, so that a cut text never looks as if it fitted.
  const fits = (s: string) => encode(s, segmentTokens + 1).length <= segmentTokens;
  const budget: SegmentBudget = { limit: task.maxSegments, used: 0 };
  const plans: TextPlan[] = [];
  const ids: Int32Array[] = [];
  try {
    for (const unit of task.units) {
      const plan = await planText(unit, fits, pause, budget);
      plans.push(plan);
      for (const line of plan.lines) for (const seg of line.segments) ids.push(encode(seg, segmentTokens));
    }
  } catch (err) {
    if (err instanceof SegmentLimitError) return { ok: false, error: "too_many_segments", limit: task.maxSegments };
    return { ok: false, error: "tokenizer", message: err instanceof Error ? err.message : String(err) };
  }
  return { ok: true, plans, ids };
}

/**
 * A lower bound of the segments `units` need, from characters alone (no tokenizer): every non-blank line is at
 * least one segment, and a line of n non-space characters is at least n / maxPieceChars tokens. Used to refuse
 * requests before any tokenization; never more than the true count.
 */
export function segmentLowerBound(units: readonly string[], segmentTokens: number, maxPieceChars: number): number {
  const perSegment = Math.max(1, (segmentTokens - 2) * Math.max(1, maxPieceChars));
  let total = 0;
  for (const unit of units) {
    let nonSpace = 0;
    const flush = () => {
      if (nonSpace > 0) total += Math.max(1, Math.ceil(nonSpace / perSegment));
      nonSpace = 0;
    };
    for (let i = 0; i < unit.length; i++) {
      const c = unit.charCodeAt(i);
      if (c === 10 || c === 13) flush();
      else if (c !== 32 && c !== 9 && c !== 12 && c !== 11) nonSpace++;
    }
    flush();
  }
  return total;
}
