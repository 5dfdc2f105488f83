/**
 * From validated translation calls to scheduler submissions and back: texts are cut into units (the text, or
 * HTML text nodes), units into segments (lines, sentences when too long), segments tokenized into engine
 * requests; one call becomes one scheduler group, and the results are decoded and put back together in order.
 */
import type { DecodeOptions, GenerateRequest, GenerateResult, ModelInfo } from "../engine/types.js";
import type { Language } from "../languages.js";
import type { BatchScheduler } from "../scheduler/scheduler.js";
import { HttpError } from "./http-error.js";
import { prepareHtml } from "./html.js";
import { SchedulerError } from "../scheduler/errors.js";
import { segmentLowerBound } from "./plan-units.js";
import { renderText, segmentCount, type TextPlan } from "./segment.js";
import { INLINE_PLAN_CHARS, type UnitPlanner } from "./tokenize-pool.js";
import { decodeOptionsFor, type DecodeOverrides, type TranslateCall } from "./translate-request.js";

/** What the server needs from the tokenizer (src/tokenizer/mbart.ts's MBartTokenizer has it). */
export interface ServingTokenizer {
  languageId(mbartCode: string): number;
  encodeSource(text: string, srcMbartCode: string, maxTokens?: number): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** Ids that decode to nothing, when the tokenizer tells (MBartTokenizer does). */
  readonly bosId?: number;
  readonly unkId?: number;
  readonly languageIds?: ReadonlyMap<string, number>;
  /** Longest vocabulary piece in characters, when the tokenizer tells (MBartTokenizer does). */
  readonly maxPieceChars?: number;
}

export interface TextTranslation {
  text: string;
  /** Tokens the model generated for this text (after the decoder start token, over all its segments). */
  tokens: number;
  /** "length" when any of its segments hit max_new_tokens. */
  finishReason: "eos" | "length";
  /** Other translations from the beam search's n-best lists (when asked): distinct, none equal to `text`. */
  alternatives?: string[];
}

export interface ServiceConfig {
  info: ModelInfo;
  tokenizer: ServingTokenizer;
  scheduler: BatchScheduler;
  /** Defaults for decoding, before the client's options (src/engine/decode-defaults.ts resolves them). */
  defaults: DecodeOptions;
  /** max_new_tokens when the client gives none; undefined = 16 + 2 x source tokens. */
  maxNewTokensDefault?: number;
  /** Source tokens (with language code and </s>) above which a line is split into sentences. */
  segmentTokens: number;
  /** Largest max_new_tokens used. */
  maxNewTokensCap: number;
  /** Where units are planned and tokenized (event loop for short inputs, worker threads for long ones). */
  planner: UnitPlanner;
  /** Most segments (engine requests) one call may need (413 beyond). */
  maxSegments: number;
  /** Characters the planner may hold before new long work is refused (429). */
  plannerBacklogChars: number;
  /** Longest piece of the tokenizer's vocabulary, in characters (for the cheap lower bound). */
  maxPieceChars: number;
}

interface Unit {
  plan: TextPlan;
  /** Index of the unit's first segment in the call's flat segment list. */
  firstSegment: number;
}

interface PreparedText {
  units: Unit[];
  /** Puts the translated units back together: the text itself, the HTML around the text nodes, or (pivot) the
   * structure of the first pass. */
  compose: (unitTexts: string[]) => string;
}

export interface PreparedCall {
  texts: PreparedText[];
  requests: GenerateRequest[];
  /** For each segment, the index of the text it belongs to. */
  segmentText: number[];
  joiner: string;
  /** Alternatives asked for each text (0: none). */
  alternatives: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  /** The text at `index` has new partial output (streaming). */
  onPartial?: (index: number, text: string) => void;
}

/** One scheduler pass's raw output: the decoded text of every segment, and the token counts. */
export interface SegmentResults {
  decoded: string[];
  results: GenerateResult[];
}

export class TranslationService {
  private silent: Set<number> | undefined;
  constructor(private readonly cfg: ServiceConfig) {}

  get info(): ModelInfo {
    return this.cfg.info;
  }

  /**
   * Tokenizes and segments the call for source -> target (target: the call's, or the pivot for a first pass);
   * throws HttpError for what cannot be served. CPU work, cut into slices of about 10 ms so that a long text does
   * not hold up other requests.
   */
  async prepare(call: TranslateCall, source: Language, target: Language = call.target): Promise<PreparedCall> {
    const texts = call.texts.map((text) => {
      if (call.format !== "html") return { sources: [text], compose: (u: string[]) => u[0] ?? "" };
      const doc = prepareHtml(text, { attributes: call.htmlAttributes, unspaced: call.target.script === "Han" });
      return { sources: doc.sources, compose: (u: string[]) => doc.compose(u) };
    });
    // Alternatives come from the pass that writes the target: a pivot's first pass keeps one beam set.
    const overrides = target === call.target ? call.overrides : { ...call.overrides, alternatives: undefined };
    return this.prepareUnits(texts, source, target, overrides);
  }

  /**
   * The second pass of a pivoted call: every segment of the first pass (translated into the pivot language) is
   * one unit of this pass, translated pivot -> target; the answer keeps the first pass's structure (lines, HTML).
   */
  async preparePivot(first: PreparedCall, pass: SegmentResults, pivot: Language, target: Language, call: TranslateCall): Promise<PreparedCall> {
    const texts = first.texts.map((text, t) => {
      const base = text.units[0]?.firstSegment ?? 0;
      const count = text.units.reduce((n, u) => n + segmentCount(u.plan), 0);
      return {
        sources: pass.decoded.slice(base, base + count),
        compose: (u: string[]) =>
          text.compose(text.units.map((unit) => renderText(unit.plan, u.slice(unit.firstSegment - base, unit.firstSegment - base + segmentCount(unit.plan)), first.joiner))),
      };
    });
    return this.prepareUnits(texts, pivot, target, call.overrides);
  }

  private async prepareUnits(
    texts: ReadonlyArray<{ sources: string[]; compose: (u: string[]) => string }>,
    source: Language,
    target: Language,
    overrides: DecodeOverrides,
  ): Promise<PreparedCall> {
    const { tokenizer, planner, scheduler } = this.cfg;
    const forcedBosId = tokenizer.languageId(target.mbart);
    const units = texts.flatMap((t) => t.sources);
    // Cheap refusals first: characters alone bound the segments from below, so a request that cannot fit, or
    // cannot be queued now, is answered before any tokenization.
    const atLeast = segmentLowerBound(units, this.cfg.segmentTokens, this.cfg.maxPieceChars);
    if (atLeast > this.cfg.maxSegments) throw tooManySegments(`at least ${atLeast}`, this.cfg.maxSegments);
    const { queued } = scheduler.snapshot();
    const { maxQueued } = scheduler.limitsInUse;
    if (queued + atLeast > maxQueued) {
      throw new SchedulerError("queue_full", `queue full (${queued} of ${maxQueued} waiting; this request needs at least ${atLeast})`);
    }
    const chars = units.reduce((n, u) => n + u.length, 0);
    const waiting = planner.backlogChars();
    if (chars > INLINE_PLAN_CHARS && waiting > 0 && waiting + chars > this.cfg.plannerBacklogChars) {
      throw new SchedulerError("queue_full", `tokenizer busy (${waiting} characters waiting)`);
    }
    const outcome = await planner.plan({
      units,
      srcCode: source.mbart,
      segmentTokens: this.cfg.segmentTokens,
      maxSegments: this.cfg.maxSegments,
    });
    if (!outcome.ok) {
      if (outcome.error === "too_many_segments") throw tooManySegments(`more than ${outcome.limit}`, this.cfg.maxSegments);
      // The text comes from the client: a tokenizer failure on it is a bad request, not a server fault.
      throw new HttpError(400, `the text could not be tokenized: ${outcome.message}`);
    }
    const requests: GenerateRequest[] = [];
    const segmentText: number[] = [];
    const prepared: PreparedText[] = [];
    let u = 0;
    for (const [textIndex, text] of texts.entries()) {
      const textUnits: Unit[] = [];
      for (let k = 0; k < text.sources.length; k++) {
        const plan = outcome.plans[u++]!;
        textUnits.push({ plan, firstSegment: requests.length });
        for (let n = segmentCount(plan); n > 0; n--) {
          const srcIds = outcome.ids[requests.length]!;
          const options = decodeOptionsFor(this.cfg.defaults, overrides, srcIds.length, this.cfg.maxNewTokensCap, this.cfg.maxNewTokensDefault);
          requests.push({ srcIds, forcedBosId, options });
          segmentText.push(textIndex);
        }
      }
      prepared.push({ units: textUnits, compose: text.compose });
    }
    return { texts: prepared, requests, segmentText, joiner: target.script === "Han" ? "" : " ", alternatives: overrides.alternatives ?? 0 };
  }

  /** Submits one pass and resolves with every segment's decoded text (the first pass of a pivot). */
  runSegments(prepared: PreparedCall, opts: RunOptions): Promise<SegmentResults> {
    const pending = this.cfg.scheduler.submit(prepared.requests, {
      timeoutMs: opts.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return pending.then((results) => ({
      results,
      decoded: results.map((r, k) => this.decode(r.ids, prepared.requests[k]!.forcedBosId)),
    }));
  }

  /** Submits the prepared call as one scheduler group; SchedulerError on queue full, deadline, cancel, failure. */
  run(prepared: PreparedCall, opts: RunOptions): Promise<TextTranslation[]> {
    const { scheduler } = this.cfg;
    const decoded: string[] = new Array<string>(prepared.requests.length).fill("");
    const partialIds: number[][] = prepared.requests.map(() => []);
    const onPartial = opts.onPartial;
    // submit throws synchronously when the queue is full, before any answer (or stream) has started.
    const pending = scheduler.submit(prepared.requests, {
      timeoutMs: opts.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(onPartial
        ? {
            onTokens: (seg: number, tokens: readonly number[]) => {
              partialIds[seg]!.push(...tokens);
              decoded[seg] = this.decode(partialIds[seg]!, prepared.requests[seg]!.forcedBosId);
              const t = prepared.segmentText[seg]!;
              onPartial(t, this.render(prepared, t, decoded));
            },
            onFinished: (seg: number, result: GenerateResult) => {
              decoded[seg] = this.decode(result.ids, prepared.requests[seg]!.forcedBosId);
              const t = prepared.segmentText[seg]!;
              onPartial(t, this.render(prepared, t, decoded));
            },
          }
        : {}),
    });
    return pending.then((results) => this.assemble(prepared, results, decoded));
  }

  private assemble(prepared: PreparedCall, results: readonly GenerateResult[], decoded: string[]): TextTranslation[] {
    results.forEach((r, k) => (decoded[k] = this.decode(r.ids, prepared.requests[k]!.forcedBosId)));
    return prepared.texts.map((_, t) => {
      let tokens = 0;
      let finishReason: "eos" | "length" = "eos";
      results.forEach((r, k) => {
        if (prepared.segmentText[k] !== t) return;
        tokens += Math.max(0, r.ids.length - 1);
        if (r.finishReason === "length") finishReason = "length";
      });
      const text = this.render(prepared, t, decoded);
      if (prepared.alternatives === 0) return { text, tokens, finishReason };
      return { text, tokens, finishReason, alternatives: this.alternativesOf(prepared, results, decoded, t, text) };
    });
  }

  /**
   * The text's alternatives: the k-th one puts every segment's k-th other hypothesis in place (a segment with
   * fewer keeps its best), rendered like the main text; duplicates and copies of the main text are dropped.
   */
  private alternativesOf(prepared: PreparedCall, results: readonly GenerateResult[], best: readonly string[], t: number, text: string): string[] {
    const out: string[] = [];
    const seen = new Set([text]);
    for (let k = 0; k < prepared.alternatives; k++) {
      let any = false;
      const decoded = best.map((d, seg) => {
        const alt = prepared.segmentText[seg] === t ? results[seg]?.alternatives?.[k] : undefined;
        if (!alt) return d;
        any = true;
        return this.decode(alt.ids, prepared.requests[seg]!.forcedBosId);
      });
      if (!any) break;
      const candidate = this.render(prepared, t, decoded);
      if (!seen.has(candidate)) {
        seen.add(candidate);
        out.push(candidate);
      }
    }
    return out;
  }

  /** Text of generated ids; "" when they hold only special tokens (decoder start, codes, </s>, padding...). */
  private decode(ids: readonly number[], forcedBosId: number): string {
    if (!ids.some((id) => !this.silentIds.has(id) && id !== forcedBosId)) return "";
    return this.cfg.tokenizer.decode(ids);
  }

  private get silentIds(): ReadonlySet<number> {
    if (!this.silent) {
      const { info, tokenizer } = this.cfg;
      const ids = [info.decoderStartId, info.eosId, info.padId, tokenizer.bosId, tokenizer.unkId, ...(tokenizer.languageIds?.values() ?? [])];
      this.silent = new Set(ids.filter((x): x is number => x !== undefined));
    }
    return this.silent;
  }

  /** The text at `index` rebuilt from the segments' current translations. */
  private render(prepared: PreparedCall, index: number, decoded: readonly string[]): string {
    const text = prepared.texts[index]!;
    return text.compose(
      text.units.map((u) => renderText(u.plan, decoded.slice(u.firstSegment, u.firstSegment + segmentCount(u.plan)), prepared.joiner)),
    );
  }
}

function tooManySegments(needs: string, limit: number): HttpError {
  return new HttpError(
    413,
    `the request needs ${needs} sentence segments; at most ${limit} per request (GLOSSA_MAX_SEGMENTS): split it into several requests`,
  );
}
