/** Batched matmul with optional transposes (shaders/matmul.wgsl). */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, WG, type DeviceArray } from './program.js';

const FIELDS = [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['batch', 'u32'], ['stride_a', 'u32'], ['stride_b', 'u32'], ['alpha', 'f32'], ['_p', 'u32']] as const;

/** Register tile per invocation: TM rows x 4*TNV columns (knobs FFM_MM_TM / FFM_MM_TNV for tuning). */
function tile(rt: GpuRuntime): { TM: number; TNV: number } {
  return { TM: knob('FFM_MM_TM') ?? (rt.isSoftware ? 8 : 4), TNV: knob('FFM_MM_TNV') ?? (rt.isSoftware ? 2 : 1) };
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
  const out = allocArray(rt, shape, 'matmul');
  const { TM, TNV } = tile(rt);
  launch(
    rt,
    program('matmul', 'main', { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0, TM, TNV }),
    layoutOf('matmul', FIELDS),
    { M, N, K, batch, stride_a: ba === 1 ? 0 : M * K, stride_b: bb === 1 ? 0 : K * N, alpha, _p: 0 },
    [a.storage, b.storage, out],
    ceilDiv(ceilDiv(M, TM) * ceilDiv(N, 4 * TNV) * batch, WG),
  );
  return { storage: out, shape };
}
