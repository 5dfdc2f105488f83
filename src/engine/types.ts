/**
 * The engine's contract, shared by the scheduler, the evaluation and calibration pipelines.
 * Token ids only: text <-> ids is the tokenizer's job (src/tokenizer).
 */
import type { GenerationDefaults } from "./loader.js";

/** Decoding settings, with Hugging Face `generate` semantics for the same names. */
export interface DecodeOptions {
  /** 1 = greedy search; >1 = beam search with this many beams. */
  beamSize: number;
  /** Most tokens generated after the decoder start token (the forced language code counts as one). */
  maxNewTokens: number;
  /** Beam scores are sum(logprobs) / length ** lengthPenalty (HF). */
  lengthPenalty: number;
  /** HF `early_stopping`: true stops a beam search once beamSize hypotheses are finished. */
  earlyStopping: boolean;
  /** 0 disables; n > 0 bans repeating any n-gram of the decoder sequence. */
  noRepeatNgramSize: number;
  /** 1 disables; HF RepetitionPenaltyLogitsProcessor semantics. */
  repetitionPenalty: number;
}

export const DEFAULT_DECODE_OPTIONS: Readonly<DecodeOptions> = {
  beamSize: 1,
  maxNewTokens: 64,
  lengthPenalty: 1.0,
  earlyStopping: true,
  noRepeatNgramSize: 0,
  repetitionPenalty: 1.0,
};

/** One source sentence to translate, already tokenized (mBART-50 conventions). */
export interface GenerateRequest {
  /** Encoder input: [src_lang_code, ...pieces, </s>]. */
  srcIds: Int32Array;
  /** Target language code id, forced as the first generated token (HF forced_bos_token_id). */
  forcedBosId: number;
  options: DecodeOptions;
}

export type FinishReason = "eos" | "length";

export interface GenerateResult {
  /**
   * The whole decoder sequence as HF `generate(...).sequences` has it, without padding:
   * [decoder_start (</s>), forced target code, ...tokens, </s> when finished by EOS].
   */
  ids: number[];
  /** Beam score (length-normalised sum of log-probs); for greedy, the sum of log-probs. */
  score: number;
  finishReason: FinishReason;
  /** Beam search: the other finished hypotheses (n-best), best first, same form as `ids`; absent for greedy. */
  alternatives?: Array<{ ids: number[]; score: number; finishReason: FinishReason }>;
}

export interface ModelInfo {
  modelType: string;
  dModel: number;
  encoderLayers: number;
  decoderLayers: number;
  attentionHeads: number;
  vocabSize: number;
  maxPositions: number;
  /** Tokens the encoder accepts (maxPositions). */
  maxSourceTokens: number;
  padId: number;
  eosId: number;
  decoderStartId: number;
  /** Weights' precision as loaded, e.g. "f32", "int8", "awq-int4". */
  precision: string;
  /** Kernel set chosen at run time, e.g. "avx512", "avx2", "generic". */
  kernels: string;
  /** CPU features detected, e.g. ["avx2","fma","avx512f","avx512vnni"]. */
  cpuFeatures: string[];
  threads: number;
  /** Where the engine computes: "cpu" or "cuda:N" (absent: cpu). */
  device?: string;
  /** The device's name, e.g. "NVIDIA H200" (CUDA). */
  deviceName?: string;
  /** KV cache blocks in the pool (on the device for CUDA). */
  kvBlocks?: number;
}

/** Device memory of a CUDA engine, in bytes (zeros on the CPU). */
export interface DeviceMemory {
  totalBytes: number;
  freeBytes: number;
  /** Allocated by this engine (weights, KV pool, scratch). */
  usedBytes: number;
}

export interface PoolRequestUse {
  id: number;
  state: "waiting" | "running" | "preempted";
  selfBlocks: number;
  crossBlocks: number;
}

/** Paged KV cache occupancy. */
export interface PoolStats {
  blockSize: number;
  totalBlocks: number;
  usedBlocks: number;
  freeBlocks: number;
  requests: PoolRequestUse[];
}

export interface StepProgress {
  id: number;
  /** Tokens appended to the request's output in this step (greedy); empty for beam search until it finishes. */
  tokens: number[];
}

export interface StepOutput {
  progress: StepProgress[];
  finished: Array<{ id: number; result: GenerateResult }>;
  /** Requests that failed (e.g. could never fit in the pool); their blocks are already freed. */
  failed: Array<{ id: number; error: string }>;
  /** Requests whose encoder ran in this step. */
  encoded: number[];
  /** Requests preempted in this step (blocks freed, to be resumed later, output unchanged). */
  preempted: number[];
  /** Sequences (beams counted) decoded together in this step. */
  batchSize: number;
  /** Source tokens encoded in this step. */
  encodedTokens: number;
}

export interface StepOptions {
  /** Most source tokens to encode in this step (new arrivals); decoding always proceeds. */
  encodeTokenBudget?: number;
}

/**
 * Continuous-batching interface: requests are added and cancelled between steps,
 * each step encodes some waiting requests and advances every running sequence by one token.
 */
export interface StepEngine {
  readonly info: ModelInfo;
  /** The model's generate() defaults (generation_config.json), when the engine was loaded from a model folder. */
  readonly generationDefaults?: GenerationDefaults;
  /** Queues a request under a caller-chosen unique id. Throws EngineError on invalid input. */
  add(id: number, req: GenerateRequest): void;
  step(opts?: StepOptions): Promise<StepOutput>;
  /** Cancels a waiting or running request and frees its blocks at once; false when unknown. */
  cancel(id: number): boolean;
  poolStats(): PoolStats;
  /** Requests added and not yet finished, failed or cancelled. */
  pending(): number;
}

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineError";
  }
}
