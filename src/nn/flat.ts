/**
 * A list of tensors laid end to end in one flat buffer, so that per-parameter work (an optimiser
 * step, a moving average) runs as one dispatch over all of them instead of one per tensor. On
 * lavapipe a dispatch costs about half a millisecond however small, and a net has 130-150
 * parameter tensors; a buffer-to-buffer copy costs a few microseconds, so gathering the tensors
 * into the flat buffer and scattering them back is cheap next to the dispatches it replaces.
 */
import { zeros } from '../autograd/create.js';
import type { Tensor } from '../autograd/tensor.js';
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import { size } from '../kernels/program.js';
import { ShapeError, fmtShape } from '../util/errors.js';

/** One segment of a flat buffer, read and written as a tensor of its own shape (host transfers only). */
export interface FlatSegment {
  readonly shape: readonly number[];
  readonly size: number;
  data(): Promise<Float32Array>;
  write(data: Float32Array): void;
}

export class FlatLayout {
  /** first float of every segment: a multiple of 4, so vec4 kernels never straddle two tensors */
  readonly offsets: number[];
  /** floats in the flat buffer, a multiple of 4 (the gaps between segments stay zero) */
  readonly size: number;
  readonly sizes: number[];

  constructor(readonly shapes: readonly (readonly number[])[]) {
    this.sizes = shapes.map(size);
    this.offsets = [];
    let n = 0;
    for (const k of this.sizes) {
      this.offsets.push(n);
      n += Math.ceil(k / 4) * 4;
    }
    this.size = n;
  }

  /** A zero flat buffer of this layout, kept (its owner disposes it). */
  alloc(): Tensor {
    return zeros([Math.max(4, this.size)]).keep();
  }

  /** Copies tensor i of `parts` into its segment of `flat`, for every i. */
  gather(rt: GpuRuntime, parts: readonly Storage[], flat: Tensor): void {
    this.check(parts.length, 'gather');
    parts.forEach((s, i) => rt.copy(s, 0, flat.storage, this.offsets[i]! * 4, this.sizes[i]! * 4));
  }

  /** Copies every segment of `flat` back into its tensor of `parts`. */
  scatter(rt: GpuRuntime, flat: Tensor, parts: readonly Storage[]): void {
    this.check(parts.length, 'scatter');
    parts.forEach((s, i) => rt.copy(flat.storage, this.offsets[i]! * 4, s, 0, this.sizes[i]! * 4));
  }

  /** Segment i of `flat`, as a tensor-like view for checkpoints. */
  segment(flat: Tensor, i: number): FlatSegment {
    const [offset, size, shape] = [this.offsets[i]!, this.sizes[i]!, this.shapes[i]!];
    return {
      shape,
      size,
      data: async () => new Float32Array(await flat.rt.read(flat.storage, offset * 4, size * 4)),
      write: (data: Float32Array) => {
        if (data.length !== size) throw new ShapeError(`write: ${data.length} values for a tensor of shape ${fmtShape(shape)} (${size})`);
        flat.rt.upload(flat.storage, data, offset * 4);
      },
    };
  }

  private check(n: number, op: string): void {
    if (n !== this.shapes.length) throw new ShapeError(`FlatLayout.${op}: ${n} tensors for a layout of ${this.shapes.length}`);
  }
}
