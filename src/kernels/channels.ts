/** Channel-range copies: concat and slice along axis 1 of [N, C, ...] tensors. */
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, size, vec4sPerInvocation, WG, type DeviceArray } from './program.js';

const FIELDS = [['N', 'u32'], ['count', 'u32'], ['S', 'u32'], ['src_c', 'u32'], ['src_off', 'u32'], ['dst_c', 'u32'], ['dst_off', 'u32'], ['_p', 'u32']] as const;

/**
 * Copies channels [srcOff, srcOff + count) of src to [dstOff, ...) of dst; by vec4s where
 * S % 4 == 0 (knob FFM_CHANNELS_VEC=0: by floats), four per invocation where a sample's run of
 * them is a multiple of four (knob FFM_CHANNELS_VQ=<n> sets another count, 1 = one each).
 */
function copyChannels(rt: GpuRuntime, src: Storage, dst: Storage, N: number, S: number, count: number, srcC: number, srcOff: number, dstC: number, dstOff: number): void {
  const by4 = S % 4 === 0 && knob('FFM_CHANNELS_VEC') !== 0;
  const s = by4 ? S / 4 : S;
  const { VQ, overrides } = by4 ? vec4sPerInvocation('FFM_CHANNELS_VQ', count * s) : { VQ: 1, overrides: {} };
  launch(rt, program('channels', by4 ? 'main4' : 'main', overrides), layoutOf('channels', FIELDS), { N, count, S: s, src_c: srcC, src_off: srcOff, dst_c: dstC, dst_off: dstOff, _p: 0 }, [src, dst], ceilDiv((N * count * s) / VQ, WG));
}

export function concatChannels(rt: GpuRuntime, parts: readonly DeviceArray[]): DeviceArray {
  if (parts.length === 0) throw new ShapeError('concat: no inputs');
  const ref = parts[0]!.shape;
  if (ref.length < 2) throw new ShapeError(`concat: inputs must be [N, C, ...], got ${fmtShape(ref)}`);
  for (const p of parts) {
    if (p.shape.length !== ref.length || p.shape.some((d, i) => i !== 1 && d !== ref[i])) {
      throw new ShapeError(`concat: shapes ${parts.map((q) => fmtShape(q.shape)).join(', ')} differ outside the channel axis`);
    }
  }
  const N = ref[0]!;
  const S = size(ref.slice(2));
  const C = parts.reduce((c, p) => c + p.shape[1]!, 0);
  const shape = [N, C, ...ref.slice(2)];
  const out = allocArray(rt, shape, 'concat');
  let off = 0;
  for (const p of parts) {
    copyChannels(rt, p.storage, out, N, S, p.shape[1]!, p.shape[1]!, 0, C, off);
    off += p.shape[1]!;
  }
  return { storage: out, shape };
}

export function sliceChannels(rt: GpuRuntime, x: DeviceArray, start: number, count: number): DeviceArray {
  const C = x.shape[1];
  if (x.shape.length < 2 || C === undefined || start < 0 || count < 1 || start + count > C) {
    throw new ShapeError(`slice: channels [${start}, ${start + count}) outside input ${fmtShape(x.shape)}`);
  }
  const N = x.shape[0]!;
  const S = size(x.shape.slice(2));
  const shape = [N, count, ...x.shape.slice(2)];
  const out = allocArray(rt, shape, 'slice');
  copyChannels(rt, x.storage, out, N, S, count, C, start, count, 0);
  return { storage: out, shape };
}

/** Gradient of a slice: dy placed at its channel offset in zeros of the input's shape. */
export function padChannels(rt: GpuRuntime, dy: DeviceArray, xShape: readonly number[], start: number): DeviceArray {
  const out = allocArray(rt, xShape, 'slice backward');
  rt.zero(out);
  const S = size(xShape.slice(2));
  copyChannels(rt, dy.storage, out, xShape[0]!, S, dy.shape[1]!, dy.shape[1]!, 0, xShape[1]!, start);
  return { storage: out, shape: [...xShape] };
}
