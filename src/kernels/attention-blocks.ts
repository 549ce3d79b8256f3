/**
 * Attention by blocks of queries: the scores of one block of queries against every key are
 * materialised (matmul, softmax, matmul: the tuned kernels), its output rows are kept and its
 * scores freed before the next block. Memory grows with the block (B x rows x L floats, at most
 * `budgetBytes`), not with L squared, so a whole image's attention fits where the dense scores
 * cannot. For inference only: a backward would need every block's scores, so training keeps
 * the fused kernel (attention.ts) there. q, k, v: [B, D, L], channel-major, one head per batch
 * entry; equal, within float rounding, to matmul(v, softmax(matmul(q, k, true), scale), false, true).
 */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError } from '../util/errors.js';
import { attentionShape } from './attention.js';
import { concatChannels, sliceChannels } from './channels.js';
import { matmul, transposeLast2 } from './matmul.js';
import { knob, type DeviceArray } from './program.js';
import { softmax } from './softmax.js';

/** Queries per block: as many as keep B x rows x L scores within the budget, a multiple of 4 (vec4 kernels) where L allows it. */
export function queryBlockRows(B: number, L: number, budgetBytes: number): number {
  const rows = Math.floor(budgetBytes / (4 * B * L));
  if (rows < 1) throw new ShapeError(`attention: ${budgetBytes} bytes hold no row of ${B} x ${L} scores`);
  return Math.min(L, rows >= 4 ? rows - (rows % 4) : rows);
}

export function attentionByQueryBlocks(rt: GpuRuntime, q: DeviceArray, k: DeviceArray, v: DeviceArray, scale: number, budgetBytes: number): DeviceArray {
  const [B, D, L] = attentionShape('attention', q, k, v);
  const rows = queryBlockRows(B, L, budgetBytes);
  // the token axis as the channel axis of [B*D, L, 1]: slicing queries is a channel copy
  const tokens = { storage: q.storage, shape: [B * D, L, 1] };
  // token-major v ([B, L, D]) makes the value product p . v^T a plain product, which the vec4 kernel takes (knob FFM_ATTN_BLOCKS_VT=0: v . p^T)
  const vT = knob('FFM_ATTN_BLOCKS_VT') === 0 ? null : transposeLast2(rt, v);
  const parts: DeviceArray[] = [];
  for (let i0 = 0; i0 < L; i0 += rows) {
    const n = Math.min(rows, L - i0);
    const qBlock = n === L ? q : { storage: sliceChannels(rt, tokens, i0, n).storage, shape: [B, D, n] };
    const scores = matmul(rt, qBlock, k, true, false); // [B, n, L]
    if (qBlock !== q) rt.free(qBlock.storage);
    const p = softmax(rt, scores, scale);
    rt.free(scores.storage);
    // [B, n, D] (token-major) or [B, D, n] seen as [B*D, n, 1]: either way the block's queries are the channel axis
    const o = vT ? matmul(rt, p, vT) : { storage: matmul(rt, v, p, false, true).storage, shape: [B * D, n, 1] };
    rt.free(p.storage);
    parts.push(o);
  }
  if (vT) rt.free(vT.storage);
  const whole = parts.length === 1 ? parts[0]! : concatChannels(rt, parts);
  if (parts.length > 1) for (const p of parts) rt.free(p.storage);
  if (!vT) return { storage: whole.storage, shape: [B, D, L] };
  const o = transposeLast2(rt, whole); // [B, L, D] -> [B, D, L]
  rt.free(whole.storage);
  return o;
}
