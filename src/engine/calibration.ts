/**
 * The engine's calibration API (native/src/quant/calib_session.*): the unquantized model run
 * teacher-forced over calibration examples to record, for every Linear's input, per-channel abs-max and
 * mean |x| plus a bounded random subsample of rows; then a quantization recipe on those statistics.
 *
 *   const s = await CalibrationSession.open(modelDir, { threads: 2 });
 *   const stats = await s.collectActivationStats(examples);
 *   const built = await s.quantize({ recipe: "int8" });   // tensors for writeEngineFile + per-layer report
 */
import { cpus } from "node:os";

import { readCheckpoint } from "./loader.js";
import { nativeAddon } from "./native.js";
import { EngineError } from "./types.js";

export interface CalibrationExample {
  /** Encoder ids: [src lang code, pieces..., eos]. */
  src: Int32Array;
  /** Decoder labels: [tgt lang code, pieces..., eos]; the decoder is fed [decoderStart] + labels[:-1]. */
  labels: Int32Array;
}

/** Input statistics of one engine Linear ("unit"; q/k/v and cross k/v are fused as in the engine). */
export interface LinearInputStats {
  unit: string;
  inFeatures: number;
  rows: number;
  absMax: Float32Array;
  meanAbs: Float32Array;
  sampledRows: number;
}

export type RecipeName = "int8" | "awq-int4" | "fold-only";

export interface QuantizeOptions {
  recipe: RecipeName;
  groupSize?: number;
  /** Sensitivity budget: sum over layers of the mean next-token KL (nats) each causes alone. */
  klBudget?: number;
  /** INT8: a layer runs W8A8 when its relative output MSE with int8 activations is at most this. */
  a8Threshold?: number;
  sensitivitySentences?: number;
  clip?: boolean;
  sensitivity?: boolean;
  /** AWQ-INT4: INT4 layers run W4A8 (int8 activations per token) and fall back to W8A8 where its error allows. */
  int4A8?: boolean;
  /** "f16" (default: the tied F16 table is the LM head) or "int8" (an extra per-row int8 lm_head, W8A8). */
  lmHead?: "f16" | "int8";
}

export interface QuantizedTensor {
  name: string;
  dtype: "F32" | "F16" | "I8" | "U8";
  precision: string;
  shape: number[];
  data: Uint8Array;
}

export interface LayerReport {
  unit: string;
  parts: string[];
  precision: string;
  relErrW8A16?: number;
  relErrW8A8?: number;
  awqAlpha?: number;
  awqErrBefore?: number;
  awqErrAfter?: number;
  /** precision level -> mean KL with only this layer at that level */
  kl: Record<string, number>;
}

export interface QuantizeResult {
  tensors: QuantizedTensor[];
  units: LayerReport[];
  klEstimate: number;
  klMeasured: number;
  sensitivityRows: number;
}

export interface CalibProgress {
  phase: string;
  done: number;
  total: number;
}

interface NativeCalibSession {
  collectStats(examples: CalibrationExample[], opts: { sampleRows: number; seed: number }): Promise<LinearInputStats[]>;
  quantize(opts: QuantizeOptions): Promise<QuantizeResult>;
  progress(): CalibProgress;
  dispose(): void;
}

interface QuantAddon {
  createCalibSession(config: unknown, tensors: unknown, opts: { threads: number }): NativeCalibSession;
  quantizeInt8(w: Float32Array, rows: number, cols: number): { q: Int8Array; scale: Float32Array; dequantized: Float32Array };
  quantizeInt4(w: Float32Array, rows: number, cols: number, groupSize: number): {
    packed: Uint8Array;
    scaleF16: Uint16Array;
    zero: Uint8Array;
    groups: number;
    dequantized: Float32Array;
  };
}

/** The native quantizers on their own (tests, tools). */
export function quantizers(): Pick<QuantAddon, "quantizeInt8" | "quantizeInt4"> {
  const a = nativeAddon() as unknown as QuantAddon;
  return { quantizeInt8: a.quantizeInt8, quantizeInt4: a.quantizeInt4 };
}

export class CalibrationSession {
  private constructor(private readonly native: NativeCalibSession) {}

  static async open(modelDir: string, opts: { threads?: number } = {}): Promise<CalibrationSession> {
    const ckpt = readCheckpoint(modelDir);
    const addon = nativeAddon() as unknown as QuantAddon;
    try {
      return new CalibrationSession(addon.createCalibSession(ckpt.config, ckpt.tensors, { threads: opts.threads ?? cpus().length }));
    } catch (e) {
      throw new EngineError(`calibration session: ${(e as Error).message}`);
    }
  }

  /** Teacher-forced pass over the examples; keeps up to sampleRows random input rows per Linear. */
  async collectActivationStats(examples: CalibrationExample[], opts: { sampleRows?: number; seed?: number } = {}): Promise<LinearInputStats[]> {
    if (examples.length === 0) throw new EngineError("collectActivationStats: no examples");
    try {
      return await this.native.collectStats(examples, { sampleRows: opts.sampleRows ?? 512, seed: opts.seed ?? 1 });
    } catch (e) {
      throw new EngineError(`collectActivationStats: ${(e as Error).message}`);
    }
  }

  /** Runs a recipe on the collected statistics (one recipe per session: AWQ folds the model in place). */
  async quantize(opts: QuantizeOptions): Promise<QuantizeResult> {
    try {
      return await this.native.quantize(opts);
    } catch (e) {
      throw new EngineError(`quantize: ${(e as Error).message}`);
    }
  }

  progress(): CalibProgress {
    return this.native.progress();
  }

  dispose(): void {
    this.native.dispose();
  }
}
