/** Batched matmul with optional transposes (shaders/matmul.wgsl). */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, WG, type DeviceArray } from './program.js';
import { sum } from './reduce.js';

const FIELDS = [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['batch', 'u32'], ['stride_a', 'u32'], ['stride_b', 'u32'], ['alpha', 'f32'], ['k_split', 'u32']] as const;

/** Register tile per invocation of the scalar kernel: TM rows x 4*TNV columns (knobs FFM_MM_TM / FFM_MM_TNV for tuning). */
function tile(rt: GpuRuntime): { TM: number; TNV: number } {
  return { TM: knob('FFM_MM_TM') ?? (rt.isSoftware ? 8 : 4), TNV: knob('FFM_MM_TNV') ?? (rt.isSoftware ? 2 : 1) };
}

/**
 * Register tile of the vec4 kernel (knobs FFM_MM_VTM: 4, 8, 12 or 16; FFM_MM_VTNV: 1, 2 or 4).
 * lavapipe, quiet, 512 x 128 x 512 (`node dist/bench/engine/matmul-probe.js`): 8 x 16 ran NN and TN
 * 1.37-1.52x the scalar 8 x 8 kernel, 16 x 16 1.1-1.2x, 8 x 8 0.75x.
 */
function vec4Tile(rt: GpuRuntime): { TM: number; TNV: number } {
  const TM = knob('FFM_MM_VTM') ?? 8;
  const TNV = knob('FFM_MM_VTNV') ?? (rt.isSoftware ? 4 : 2);
  if (TM % 4 !== 0 || TM < 4 || TM > 16 || ![1, 2, 4].includes(TNV)) throw new ShapeError(`matmul: FFM_MM_VTM must be 4, 8, 12 or 16 and FFM_MM_VTNV 1, 2 or 4, got ${TM} and ${TNV}`);
  return { TM, TNV };
}

/**
 * Which kernel runs: 'vec4' (`main_vec4`: every load a vec4 along the operand's contiguous
 * axis, a wider register tile) where it fits (K % 4 == 0, N % 4 == 0, M % 4 == 0 if A is
 * transposed) and B is not transposed; 'transpose-b' where B is transposed, would fit
 * untransposed and M >= 64: B is rewritten as [K, N] first (`transpose_b`), then 'vec4' runs;
 * else 'scalar' (`main`). On lavapipe a vec4 kernel reading a transposed B as it is (its vec4s
 * along k, shuffled into rows) ran 0.8-0.9x the scalar kernel (NT, TT; matmul-probe), the copy
 * 1.28-1.33x at M = 512. The copy reads B across its rows, K x N loads that only M rows of
 * output repay: for attention's value product v P^T (P: tokens x tokens) it ran 0.25x at M = 16
 * (1,936 tokens), 0.74x at 32, 1.24x at 64 and 1.71x at 128 (1,024 tokens;
 * bench/results/matmul-probe-*-transpose-b-rows.json), hence M >= 64. Knob FFM_MM_VEC=0 keeps
 * the scalar kernel everywhere, 1 takes the vec4 kernel wherever it fits (copying a transposed B
 * whatever M); FFM_MM_TRANSPOSE_B=0 turns the copy off.
 * Below M = 64 an NT product (A along k, B transposed) runs 'nt4' (`main_nt4`): dot products of
 * vec4s along k from both operands as stored, no shuffle and no copy. lavapipe, quiet, the U-Net's
 * 1x1 weight gradient [32 x 16384] x [96 x 16384]^T (matmul-probe, 9 rounds): 63-64 ms against the
 * scalar kernel's 90-91 ms at 8 x 4 (1.43x); 8 x 8 ran 75 ms, 4 x 4 71-73 ms, 16 x 4 103 ms.
 * Knob FFM_MM_NT4=0 keeps the scalar kernel there.
 */
function kernelFor(M: number, N: number, K: number, transA: boolean, transB: boolean): 'vec4' | 'transpose-b' | 'nt4' | 'scalar' {
  const k = knob('FFM_MM_VEC');
  if (k === 0 || K % 4 !== 0 || N % 4 !== 0 || (transA && M % 4 !== 0)) return 'scalar';
  if (!transB) return 'vec4';
  if (k === 1 || (M >= 64 && knob('FFM_MM_TRANSPOSE_B') !== 0)) return 'transpose-b';
  return !transA && knob('FFM_MM_NT4') !== 0 ? 'nt4' : 'scalar';
}

/** Register tile of main_nt4: TM rows x 4*TNV columns (knobs FFM_MM_NT4_TM: 4, 8, 12 or 16; FFM_MM_NT4_TNV: 1 or 2). */
function nt4Tile(): { TM: number; TNV: number } {
  const TM = knob('FFM_MM_NT4_TM') ?? 8;
  const TNV = knob('FFM_MM_NT4_TNV') ?? 1;
  if (TM % 4 !== 0 || TM < 4 || TM > 16 || ![1, 2].includes(TNV)) throw new ShapeError(`matmul: FFM_MM_NT4_TM must be 4, 8, 12 or 16 and FFM_MM_NT4_TNV 1 or 2, got ${TM} and ${TNV}`);
  return { TM, TNV };
}

/** x: [B, R, C] -> [B, C, R] (also matmul's copy of a transposed B). */
export function transposeLast2(rt: GpuRuntime, x: DeviceArray): DeviceArray {
  if (x.shape.length !== 3) throw new ShapeError(`transpose: expected [B, R, C], got ${fmtShape(x.shape)}`);
  const [B, R, C] = x.shape as [number, number, number];
  const out = allocArray(rt, [B, C, R], 'transpose');
  launch(rt, program('matmul', 'transpose_b'), layoutOf('matmul', FIELDS), { M: 0, N: R, K: C, batch: B, stride_a: 0, stride_b: 0, alpha: 1, k_split: 1 }, [x.storage, out], ceilDiv(B * R * C, WG));
  return { storage: out, shape: [B, C, R] };
}

/**
 * a: [B, M, K] (or [B, K, M] with transA), b: [B, K, N] (or [B, N, K] with transB);
 * a batch of 1 broadcasts over the other's batch. Rank-2 inputs are a batch of one.
 */
export function matmul(rt: GpuRuntime, a: DeviceArray, b: DeviceArray, transA = false, transB = false, alpha = 1): DeviceArray {
  const as = a.shape.length === 2 ? [1, ...a.shape] : a.shape;
  const bs = b.shape.length === 2 ? [1, ...b.shape] : b.shape;
  if (as.length !== 3 || bs.length !== 3) throw new ShapeError(`matmul: expected rank 2 or 3, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [ba, a1, a2] = as as [number, number, number];
  const [bb, b1, b2] = bs as [number, number, number];
  const M = transA ? a2 : a1;
  const K = transA ? a1 : a2;
  const Kb = transB ? b2 : b1;
  const N = transB ? b1 : b2;
  if (K !== Kb) throw new ShapeError(`matmul: inner dimensions differ (${K} vs ${Kb}) for ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} x ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''}`);
  if (ba !== bb && ba !== 1 && bb !== 1) throw new ShapeError(`matmul: batch sizes ${ba} and ${bb} differ in ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`);
  const batch = Math.max(ba, bb);
  const shape = a.shape.length === 2 && b.shape.length === 2 ? [M, N] : [batch, M, N];
  const kernel = kernelFor(M, N, K, transA, transB);
  const { TM, TNV } = kernel === 'scalar' ? tile(rt) : kernel === 'nt4' ? nt4Tile() : vec4Tile(rt);
  let bData = b.storage;
  let bTransposed = transB;
  if (kernel === 'transpose-b') {
    bData = transposeLast2(rt, { storage: b.storage, shape: [bb, N, K] }).storage;
    bTransposed = false;
  }
  const tiles = ceilDiv(M, TM) * ceilDiv(N, 4 * TNV) * batch;
  const parts = kSplit(tiles, K);
  const dst = parts === 1 ? allocArray(rt, shape, 'matmul') : allocArray(rt, [batch, parts, M * N], 'matmul split-K partials');
  launch(
    rt,
    program('matmul', kernel === 'scalar' ? 'main' : kernel === 'nt4' ? 'main_nt4' : 'main_vec4', { TRANS_A: transA ? 1 : 0, TRANS_B: bTransposed ? 1 : 0, TM, TNV }),
    layoutOf('matmul', FIELDS),
    { M, N, K, batch, stride_a: ba === 1 ? 0 : M * K, stride_b: bb === 1 ? 0 : K * N, alpha, k_split: parts },
    [a.storage, bData, dst],
    ceilDiv(tiles * parts, WG),
  );
  if (bData !== b.storage) rt.free(bData);
  if (parts === 1) return { storage: dst, shape };
  const summed = sum(rt, { storage: dst, shape: [batch, parts, M * N] }, [1]);
  rt.free(dst);
  return { storage: summed.storage, shape };
}

/** Invocations a product should keep busy before a split K pays: eight workgroups. */
const SPLIT_K_INVOCATIONS = 8 * WG;
/** The shortest chunk of K worth a slab of partial sums of its own. */
const SPLIT_K_MIN_CHUNK = 256;

/**
 * Chunks of K for a product of `tiles` register tiles (1: no split). A product with a small
 * output and a long K (a 1x1 convolution's weight gradient sums over every pixel into a
 * Cout x Cin matrix: 48 tiles at 32 x 96) runs on one workgroup, so on a CPU-backed adapter one
 * core works while the others wait; chunks of K make more tiles, and their partial products are
 * summed by one reduction. Knob FFM_MM_KSPLIT=<n> forces n chunks (1: never split).
 */
function kSplit(tiles: number, K: number): number {
  const forced = knob('FFM_MM_KSPLIT');
  if (forced !== undefined) return Math.max(1, Math.floor(forced));
  if (tiles >= SPLIT_K_INVOCATIONS || K < 2 * SPLIT_K_MIN_CHUNK) return 1;
  return Math.min(16, Math.ceil(SPLIT_K_INVOCATIONS / tiles), Math.floor(K / SPLIT_K_MIN_CHUNK));
}
