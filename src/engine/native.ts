/** Typed access to the native addon (native/build/Release/glossa_native.node). */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type { MBartConfig, TensorLocation } from "./loader.js";
import type { DecodeOptions, DeviceMemory, PoolStats, StepOutput } from "./types.js";

export interface NativeInfo {
  kernels: string;
  cpuFeatures: string[];
  threads: number;
  precision: string;
  device: string;
  deviceName: string;
  memory: DeviceMemory;
  kvBlocks: number;
}

/** Whether this build has the CUDA backend and whether a device is usable now (reason when not). */
export interface CudaStatus {
  compiled: boolean;
  available: boolean;
  reason: string;
}

export interface NativeEngineOptions {
  threads: number;
  kvBlocks: number;
  blockSize: number;
  /** Forces a kernel set ("generic", "avx2", "avx512") when the CPU supports it. */
  kernels?: string;
  /** Refuse NaN/Inf weights while converting them at load (default true). */
  checkFinite?: boolean;
  /** "cpu" (default), "cuda" or "cuda:N". */
  device?: string;
  /** CUDA compute precision: "f16" (default), "bf16" or "f32" (exact mode). */
  compute?: string;
  /** CUDA: batch-invariant kernels only (no cuBLAS for weight GEMMs). */
  deterministic?: boolean;
  /** CUDA: record decode steps as CUDA graphs (default true). */
  cudaGraphs?: boolean;
  /** CPU: run the device-search path on the host (tests). */
  hostSearchEmulation?: boolean;
  /** kvBlocks 0 on CUDA: this fraction of the free device memory after the weights (default 0.9). */
  kvMemoryFraction?: number;
}

export interface NativeEngine {
  info(): NativeInfo;
  add(id: number, srcIds: Int32Array, forcedBosId: number, options: DecodeOptions): void;
  step(encodeTokenBudget: number): Promise<StepOutput>;
  cancel(id: number): boolean;
  poolStats(): PoolStats;
  check(): string[];
  pending(): number;
  debugForward(srcIds: Int32Array): { encoderOut: Float32Array; logits: Float32Array };
  /** Device memory now (CUDA; zeros on the CPU). */
  memory(): DeviceMemory;
  /** Frees the engine's memory now; later calls throw. */
  dispose(): void;
}

interface NativeModule {
  loadEngine(config: MBartConfig, tensors: TensorLocation[], options: NativeEngineOptions): Promise<NativeEngine>;
  cudaStatus(): CudaStatus;
  version: string;
}

let cached: NativeModule | undefined;

/** The repository root: the nearest ancestor of this file holding native/binding.gyp. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "native", "binding.gyp"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find native/binding.gyp above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function nativeAddon(): NativeModule {
  if (cached) return cached;
  const path = join(repoRoot(), "native", "build", "Release", "glossa_native.node");
  if (!existsSync(path)) throw new Error(`native engine not built (${path}); run npm run build:native`);
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeModule;
  return cached;
}
