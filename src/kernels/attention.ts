/**
 * Fused attention (shaders/attention.wgsl): softmax(scale q^T k) applied to v with online
 * softmax, never materialising the L x L scores; memory O(B D L). q, k, v: [B, D, L]
 * (channel-major, one head per batch entry), D <= 64.
 */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, WG, type DeviceArray } from './program.js';

const FIELDS = [['B', 'u32'], ['L', 'u32'], ['scale', 'f32'], ['groups', 'u32']] as const;
/** the largest head dimension the kernel keeps in registers (DMAX in the WGSL) */
export const ATTENTION_MAX_HEAD_DIM = 64;

/** [B, D, L] of q, k and v, which must share one rank-3 shape with at least one token. */
export function attentionShape(op: string, q: DeviceArray, k: DeviceArray, v: DeviceArray): [number, number, number] {
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.shape.length !== 3) throw new ShapeError(`${op}: ${name} must be [B, D, L], got ${fmtShape(t.shape)}`);
  }
  const [B, D, L] = q.shape as [number, number, number];
  if (k.shape.some((d, i) => d !== q.shape[i]) || v.shape.some((d, i) => d !== q.shape[i])) {
    throw new ShapeError(`${op}: q, k and v must have one shape, got q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);
  }
  if (L === 0) throw new ShapeError(`${op}: no tokens (q ${fmtShape(q.shape)})`);
  return [B, D, L];
}

/** The fused kernel's shape check: attentionShape, and a head no wider than its registers hold. */
function dims(op: string, q: DeviceArray, k: DeviceArray, v: DeviceArray): [number, number, number] {
  const [B, D, L] = attentionShape(op, q, k, v);
  if (D > ATTENTION_MAX_HEAD_DIM) throw new ShapeError(`${op}: head dimension ${D} exceeds ${ATTENTION_MAX_HEAD_DIM} (q ${fmtShape(q.shape)})`);
  return [B, D, L];
}

/** Whether the vec4-lane forward (forward_q4) takes L tokens: L % 4 == 0 (knob FFM_ATTN_Q4=0: never). */
export function hasVec4Forward(L: number): boolean {
  return L % 4 === 0 && knob('FFM_ATTN_Q4') !== 0;
}

/** `groups` workgroups per batch entry cover `threads` invocations */
const uniforms = (B: number, threads: number, scale: number) => ({ B, L: threads, scale, groups: ceilDiv(threads, WG) });

/** keys per block of the forward: T * D <= 256 values of a block, QB * T <= 128 scores */
function forwardKeys(D: number, QB: number): number {
  return knob('FFM_ATTN_T') ?? Math.max(1, Math.min(8, Math.floor(256 / D), Math.floor(128 / QB)));
}

/**
 * Queries per invocation of the forward: as many as fit 256 values of q (QBD_MAX), at most 16.
 * On lavapipe (4 x 16 x 2025, interleaved with the materialised path under load) 16 queries
 * ran 1.3-2x faster than 4; loads, not arithmetic, bound it there.
 */
function forwardQueries(D: number): number {
  return knob('FFM_ATTN_QB') ?? Math.max(1, Math.min(16, Math.floor(256 / D)));
}

/** o = attention(q, k, v) and lse (the log normaliser per query, [B, L], for the backward). */
export function attention(rt: GpuRuntime, q: DeviceArray, k: DeviceArray, v: DeviceArray, scale: number): { o: DeviceArray; lse: DeviceArray } {
  const [B, D, L] = dims('attention', q, k, v);
  const o = allocArray(rt, q.shape, 'attention');
  const lse = allocArray(rt, [B, L], 'attention');
  if (hasVec4Forward(L)) {
    // four queries per invocation as vec4 lanes
    const QV = Math.max(1, Math.min(knob('FFM_ATTN_QV') ?? 4, Math.floor(64 / D))); // QV * D <= DMAX4
    const threads = ceilDiv(L / 4, QV);
    launch(rt, program('attention', 'forward_q4', { D, QV }), layoutOf('attention', FIELDS), { ...uniforms(B, threads, scale), L }, [q.storage, k.storage, v.storage, o, lse], B * ceilDiv(threads, WG));
    return { o: { storage: o, shape: [...q.shape] }, lse: { storage: lse, shape: [B, L] } };
  }
  const QB = forwardQueries(D);
  launch(rt, program('attention', 'forward', { D, QB, T: forwardKeys(D, QB) }), layoutOf('attention', FIELDS), { ...uniforms(B, ceilDiv(L, QB), scale), L }, [q.storage, k.storage, v.storage, o, lse], B * ceilDiv(ceilDiv(L, QB), WG));
  return { o: { storage: o, shape: [...q.shape] }, lse: { storage: lse, shape: [B, L] } };
}

/** dq, dk, dv of attention, from the forward's inputs, output o, lse and the output gradient do. */
export function attentionBackward(
  rt: GpuRuntime, q: DeviceArray, k: DeviceArray, v: DeviceArray, o: DeviceArray, lse: DeviceArray, dout: DeviceArray, scale: number,
): { dq: DeviceArray; dk: DeviceArray; dv: DeviceArray } {
  const [B, D, L] = dims('attentionBackward', q, k, v);
  const delta = allocArray(rt, [B, L], 'attentionBackward');
  const dq = allocArray(rt, q.shape, 'attentionBackward');
  const dk = allocArray(rt, q.shape, 'attentionBackward');
  const dv = allocArray(rt, q.shape, 'attentionBackward');
  const layout = layoutOf('attention', FIELDS);
  const u = uniforms(B, L, scale);
  launch(rt, program('attention', 'backward_q', { D }), layout, u, [q.storage, k.storage, v.storage, o.storage, dout.storage, lse.storage, delta, dq], B * ceilDiv(L, WG));
  launch(rt, program('attention', 'backward_kv', { D }), layout, u, [q.storage, k.storage, v.storage, dout.storage, lse.storage, delta, dk, dv], B * ceilDiv(L, WG));
  rt.free(delta);
  return { dq: { storage: dq, shape: [...q.shape] }, dk: { storage: dk, shape: [...q.shape] }, dv: { storage: dv, shape: [...q.shape] } };
}
