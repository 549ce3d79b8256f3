/** What every benchmark record carries: the commit it was measured at and a file-name slug of the adapter. */
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { AdapterDescription } from '../gpu/runtime.js';

/** The short commit hash of the working directory (+changes when tracked files differ from it), or 'unknown' outside a git checkout. */
export function gitCommit(): string {
  // a copy of the tree on another machine (bench/gpu) may carry a stale .git: the bundle names its commit
  const given = process.env.FUSIONFM_COMMIT;
  if (given) return given;
  try {
    const head = execSync('git rev-parse --short HEAD', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // a figure measured with uncommitted changes to tracked files says so
    const dirty = execSync('git status --porcelain --untracked-files=no', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** The adapter's device (or full) name, lower-case, for result file names. */
export function adapterSlug(adapter: AdapterDescription): string {
  return (adapter.device || adapter.name).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
}

/** The host CPU a figure was measured on: lavapipe runs the kernels on it, so the adapter name alone does not tell hosts apart (an AVX-512 host ran our kernels 3-4x faster than an AVX2 one). */
export interface HostCpu {
  model: string;
  cores: number;
  /** the vector extensions lavapipe's LLVM can use, as /proc/cpuinfo lists them */
  simd: string[];
}

export function hostCpu(): HostCpu {
  const cpus = os.cpus();
  let flags: string[] = [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    flags = line ? line.split(':')[1]!.trim().split(/\s+/) : [];
  } catch {
    // not Linux: the model name and core count still say something
  }
  const simd = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16'].filter((f) => flags.includes(f));
  return { model: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, simd };
}
