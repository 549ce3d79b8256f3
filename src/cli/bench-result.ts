/** The shape of a `fusionfm bench` result (results.json), shared by the bench and its HTML report. */
import type { Task } from '../fusion/pseudo/selection.js';

export interface MethodRow {
  name: string; family: 'fusionfm' | 'ddim'; steps: number; nfe: number;
  composite: number; metrics: Record<string, number>;
  /** median ms per image by size ('256x256') */
  ms: Record<string, number>;
}

export interface BenchResult {
  bench: 'fusionfm-vs-diffusion'; adapter: string; commit: string; command: string; task: Task; dataset: string;
  pairs: string[]; crop: number; models: { flow: string; ddpm: string }; rows: MethodRow[];
  speedup: { size: string; ddim_steps: number; matched: boolean; fusionfm_ms: number; ddim_ms: number; ratio: number }[];
  /** the engine and peer benchmarks saved for this adapter (empty when none ran) */
  engine: EngineRecord[];
  composite_definition: string;
}

/** one timing of bench:kernels, bench:cpu-peers or bench:torch, with the file it came from */
export interface EngineRecord { source: string; commit: string; case: string; impl: string; device: string; median_ms: number; gflops?: number }

