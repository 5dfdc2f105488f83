/**
 * The engine as TypeScript sees it: loads a checkpoint into the native engine and implements the
 * StepEngine contract (continuous batching) plus a batch generate() for evaluation.
 * Compute runs on native worker threads; add/cancel while a step runs are queued here and applied
 * as soon as the step returns (cancel's blocks are freed then, before the step's promise resolves).
 */
import { cpus } from "node:os";

import { readCheckpoint, type Checkpoint, type GenerationDefaults, type MBartConfig } from "./loader.js";
import { readEngineCheckpoint } from "./engine-file.js";
import { nativeAddon, type NativeEngine } from "./native.js";
import {
  DEFAULT_DECODE_OPTIONS,
  EngineError,
  type DecodeOptions,
  type DeviceMemory,
  type GenerateRequest,
  type GenerateResult,
  type ModelInfo,
  type PoolStats,
  type StepEngine,
  type StepOptions,
  type StepOutput,
} from "./types.js";

export interface EngineLoadOptions {
  modelDir: string;
  /** A calibrated engine file (src/engine/engine-file.ts) built from modelDir; its checksum is verified. */
  enginePath?: string;
  /** Compute threads (default: all cores). */
  threads?: number;
  /** KV cache blocks (default: as many as fit in kvMemoryMiB). */
  kvBlocks?: number;
  /** Tokens per KV block (default 16). */
  blockSize?: number;
  /** KV cache memory when kvBlocks is not given (default 1024 MiB). */
  kvMemoryMiB?: number;
  /** Forces a kernel set: "avx512", "avx2" or "generic" (default: best for this CPU). */
  kernels?: string;
  /**
   * Non-finite weights (NaN, +-inf) are refused at load, naming file, tensor and element; the check is fused
   * into the F16/BF16 -> F32 conversion. false exists only for bench/load.ts, which measures what it costs.
   */
  checkFinite?: boolean;
  /** "cpu" (default), "cuda" or "cuda:N" (the CUDA backend; needs a build with nvcc and a visible GPU). */
  device?: string;
  /** CUDA compute precision: "f16" (default), "bf16" or "f32" (exact mode: FP32 GEMMs, no TF32). */
  compute?: "f16" | "bf16" | "f32";
  /** CUDA: batch-invariant kernels only (slower; results independent of batch composition). */
  deterministic?: boolean;
  /** CUDA: record decode steps as CUDA graphs at bucketed batch sizes (default true). */
  cudaGraphs?: boolean;
  /** CUDA without kvBlocks/kvMemoryMiB: the KV pool takes this fraction of the free device memory (default 0.9). */
  kvMemoryFraction?: number;
  /** Tests: run the device-search code path on the CPU backend. */
  hostSearchEmulation?: boolean;
}

/** Default encode budget per step (source tokens). */
export const DEFAULT_ENCODE_TOKEN_BUDGET = 2048;

export class Engine implements StepEngine {
  readonly info: ModelInfo;
  readonly config: MBartConfig;
  readonly generationDefaults: GenerationDefaults;
  private readonly native: NativeEngine;
  private readonly live = new Set<number>();
  private inFlight: Promise<StepOutput> | undefined;
  private queuedAdds: Array<{ id: number; req: GenerateRequest }> = [];
  private queuedCancels = new Set<number>();
  private lastStats: PoolStats;
  private lastMemory: DeviceMemory = { totalBytes: 0, freeBytes: 0, usedBytes: 0 };
  private nextInternalId = 2 ** 50;
  private disposed = false;

  private constructor(native: NativeEngine, ckpt: Checkpoint) {
    this.native = native;
    this.config = ckpt.config;
    this.generationDefaults = ckpt.generation;
    const n = native.info();
    const c = ckpt.config;
    this.info = {
      modelType: c.modelType,
      dModel: c.dModel,
      encoderLayers: c.encoderLayers,
      decoderLayers: c.decoderLayers,
      attentionHeads: c.encoderHeads,
      vocabSize: c.vocabSize,
      maxPositions: c.maxPositions,
      maxSourceTokens: c.maxPositions,
      padId: c.padId,
      eosId: c.eosId,
      decoderStartId: c.decoderStartId,
      // An engine file reports its recipe (e.g. "awq-int4"); the native value is the LM head's precision.
      precision: "engine" in ckpt ? (ckpt as { engine: { metadata: Record<string, string> } }).engine.metadata.recipe ?? n.precision : n.precision,
      kernels: n.kernels,
      cpuFeatures: n.cpuFeatures,
      threads: n.threads,
      device: n.device,
      deviceName: n.deviceName,
      kvBlocks: n.kvBlocks,
    };
    this.lastStats = native.poolStats();
  }

  static async load(opts: EngineLoadOptions): Promise<Engine> {
    const ckpt = opts.enginePath ? readEngineCheckpoint(opts.modelDir, opts.enginePath) : readCheckpoint(opts.modelDir);
    const c = ckpt.config;
    const blockSize = opts.blockSize ?? 16;
    if (!Number.isInteger(blockSize) || blockSize <= 0) throw new EngineError("blockSize must be a positive integer");
    const device = opts.device ?? "cpu";
    if (!/^(cpu|cuda|cuda:\d{1,3})$/.test(device)) throw new EngineError(`device "${device}" is not cpu, cuda or cuda:N`);
    const onCuda = device !== "cpu";
    if (opts.compute !== undefined && !["f16", "bf16", "f32"].includes(opts.compute))
      throw new EngineError(`compute "${String(opts.compute)}" is not f16, bf16 or f32`);
    const fraction = opts.kvMemoryFraction ?? 0.9;
    if (!(fraction > 0 && fraction <= 1)) throw new EngineError("kvMemoryFraction must be in (0, 1]");
    const elementBytes = onCuda && opts.compute !== "f32" ? 2 : 4;
    const blockBytes = c.decoderLayers * 2 * blockSize * c.dModel * elementBytes;
    // CUDA: without an explicit size the native side sizes the pool from free device memory (kvBlocks 0).
    const kvBlocks =
      opts.kvBlocks ??
      (onCuda && opts.kvMemoryMiB === undefined ? 0 : Math.max(8, Math.floor(((opts.kvMemoryMiB ?? 1024) * 1024 * 1024) / blockBytes)));
    if (!Number.isInteger(kvBlocks) || kvBlocks < 0 || (kvBlocks === 0 && !onCuda)) throw new EngineError("kvBlocks must be a positive integer");
    const threads = opts.threads ?? cpus().length;
    if (!Number.isInteger(threads) || threads <= 0 || threads > 256) throw new EngineError("threads must be an integer in [1, 256]");
    let native: NativeEngine;
    try {
      native = await nativeAddon().loadEngine(c, ckpt.tensors, {
        threads,
        kvBlocks,
        blockSize,
        kernels: opts.kernels ?? "",
        checkFinite: opts.checkFinite ?? true,
        device,
        compute: opts.compute ?? "",
        deterministic: opts.deterministic ?? false,
        cudaGraphs: opts.cudaGraphs ?? true,
        kvMemoryFraction: fraction,
        hostSearchEmulation: opts.hostSearchEmulation ?? false,
      });
    } catch (e) {
      throw new EngineError((e as Error).message);
    }
    return new Engine(native, ckpt);
  }

  /** Fills unspecified options from DEFAULT_DECODE_OPTIONS. */
  static decodeOptions(partial: Partial<DecodeOptions> = {}): DecodeOptions {
    return { ...DEFAULT_DECODE_OPTIONS, ...partial };
  }

  private validate(id: number, req: GenerateRequest): void {
    if (!Number.isSafeInteger(id)) throw new EngineError(`request id must be a safe integer, got ${id}`);
    if (this.live.has(id)) throw new EngineError(`request id ${id} is already live`);
    if (!(req.srcIds instanceof Int32Array)) throw new EngineError("srcIds must be an Int32Array");
    const n = req.srcIds.length;
    if (n === 0) throw new EngineError("srcIds is empty");
    if (n > this.info.maxSourceTokens) throw new EngineError(`source has ${n} tokens; the model accepts at most ${this.info.maxSourceTokens}`);
    for (const t of req.srcIds)
      if (t < 0 || t >= this.info.vocabSize) throw new EngineError(`source token id ${t} is out of the vocabulary`);
    if (!Number.isInteger(req.forcedBosId) || req.forcedBosId < -1 || req.forcedBosId >= this.info.vocabSize)
      throw new EngineError(`forcedBosId ${req.forcedBosId} is out of the vocabulary`);
    const o = req.options;
    if (!Number.isInteger(o.beamSize) || o.beamSize < 1 || o.beamSize > 64) throw new EngineError("beamSize must be an integer in [1, 64]");
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1 || o.maxNewTokens + 1 > this.info.maxPositions)
      throw new EngineError(`maxNewTokens must be an integer in [1, ${this.info.maxPositions - 1}]`);
    if (!Number.isFinite(o.lengthPenalty)) throw new EngineError("lengthPenalty must be finite");
    if (!Number.isInteger(o.noRepeatNgramSize) || o.noRepeatNgramSize < 0) throw new EngineError("noRepeatNgramSize must be an integer >= 0");
    if (!Number.isFinite(o.repetitionPenalty) || o.repetitionPenalty <= 0) throw new EngineError("repetitionPenalty must be > 0");
    if (typeof o.earlyStopping !== "boolean") throw new EngineError("earlyStopping must be a boolean");
  }

  add(id: number, req: GenerateRequest): void {
    if (this.disposed) throw new EngineError("engine disposed");
    this.validate(id, req);
    this.live.add(id);
    if (this.inFlight) {
      this.queuedAdds.push({ id, req });
      return;
    }
    this.addNative(id, req);
  }

  private addNative(id: number, req: GenerateRequest): void {
    try {
      this.native.add(id, req.srcIds, req.forcedBosId, req.options);
    } catch (e) {
      this.live.delete(id);
      throw new EngineError((e as Error).message);
    }
  }

  async step(opts: StepOptions = {}): Promise<StepOutput> {
    if (this.disposed) throw new EngineError("engine disposed");
    if (this.inFlight) throw new EngineError("a step is already running");
    const budget = opts.encodeTokenBudget ?? DEFAULT_ENCODE_TOKEN_BUDGET;
    if (!Number.isInteger(budget) || budget <= 0) throw new EngineError("encodeTokenBudget must be a positive integer");
    const p = this.native.step(budget);
    this.inFlight = p;
    let out: StepOutput;
    try {
      out = await p;
    } catch (e) {
      throw new EngineError(`engine step failed: ${(e as Error).message}`);
    } finally {
      this.inFlight = undefined;
    }
    this.afterStep(out);
    return out;
  }

  private afterStep(out: StepOutput): void {
    const cancelled = this.queuedCancels;
    this.queuedCancels = new Set();
    for (const id of cancelled) this.native.cancel(id);
    out.finished = out.finished.filter((f) => !cancelled.has(f.id));
    out.progress = out.progress.filter((p) => !cancelled.has(p.id));
    out.failed = out.failed.filter((f) => !cancelled.has(f.id));
    for (const f of out.finished) this.live.delete(f.id);
    for (const f of out.failed) this.live.delete(f.id);
    const adds = this.queuedAdds;
    this.queuedAdds = [];
    for (const a of adds) {
      if (cancelled.has(a.id)) continue;
      this.addNative(a.id, a.req);
    }
    this.lastStats = this.native.poolStats();
  }

  cancel(id: number): boolean {
    if (!this.live.has(id)) return false;
    this.live.delete(id);
    if (this.inFlight) {
      const queued = this.queuedAdds.findIndex((a) => a.id === id);
      if (queued >= 0) this.queuedAdds.splice(queued, 1);
      else this.queuedCancels.add(id);
      return true;
    }
    if (!this.disposed) {
      this.native.cancel(id);
      this.lastStats = this.native.poolStats();
    }
    return true;
  }

  /** Pool occupancy; while a step runs, the figures as of the end of the previous step. */
  poolStats(): PoolStats {
    return this.inFlight || this.disposed ? this.lastStats : this.native.poolStats();
  }

  pending(): number {
    return this.live.size;
  }

  /** Device memory (CUDA; zeros on the CPU); while a step runs, as of the end of the previous step. */
  deviceMemory(): DeviceMemory {
    if (!this.inFlight && !this.disposed) this.lastMemory = this.native.memory();
    return this.lastMemory;
  }

  /** KV-cache bookkeeping problems found by the native engine (empty when consistent). */
  checkConsistency(): string[] {
    if (this.inFlight) throw new EngineError("a step is running");
    return this.native.check();
  }

  /** Encoder output [T, d] and the first decoder step's logits (input = decoder start) for one source. */
  debugForward(srcIds: Int32Array): { encoderOut: Float32Array; logits: Float32Array } {
    if (this.inFlight) throw new EngineError("a step is running");
    try {
      return this.native.debugForward(srcIds);
    } catch (e) {
      throw new EngineError((e as Error).message);
    }
  }

  /** Frees weights, KV cache and threads (after a running step finishes); the engine is unusable afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.inFlight) await this.inFlight.catch(() => undefined);
    this.live.clear();
    this.queuedAdds = [];
    this.native.dispose();
  }

  close(): Promise<void> {
    return this.dispose();
  }

  /**
   * Runs requests to completion on the step machinery (continuous batching) and returns results in order.
   * It drives step() itself: use it when nobody else is stepping this engine.
   */
  async generate(requests: GenerateRequest[], opts: StepOptions = {}): Promise<GenerateResult[]> {
    if (this.live.size > 0 || this.inFlight) throw new EngineError("generate() needs an idle engine (requests are pending)");
    const ids = requests.map(() => this.nextInternalId++);
    const results = new Map<number, GenerateResult>();
    try {
      requests.forEach((r, i) => this.add(ids[i]!, r));
      while (results.size + 0 < requests.length) {
        const out = await this.step(opts);
        for (const f of out.failed) throw new EngineError(`request ${ids.indexOf(f.id)} failed: ${f.error}`);
        for (const f of out.finished) results.set(f.id, f.result);
        if (out.batchSize === 0 && out.encoded.length === 0 && this.live.size > 0 && out.finished.length === 0)
          throw new EngineError("engine made no progress");
      }
    } finally {
      for (const id of ids) if (this.live.has(id)) this.cancel(id);
    }
    return ids.map((id) => results.get(id)!);
  }
}
