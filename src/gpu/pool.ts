/**
 * Buffer pool keyed by bucketed size. A buffer handed back can be handed out again at once,
 * inside the command batch that still reads it: commands run in the order recorded, and a
 * host upload (GpuRuntime.upload, queue.writeBuffer) submits the recorded work before it
 * writes, so it cannot land before the pending reads. Reuse inside a batch keeps one forward's
 * memory at its live working set instead of every intermediate it ever made (a forward is one
 * or two batches of up to 96 dispatches), and spares new buffers their first-touch cost, which
 * lavapipe pays inside the first kernels that write them (1.5-4x their time; session 18).
 * Buffers under IN_BATCH_REUSE_BYTES still wait for the next submit, as a precaution: for them
 * the memory is nothing, while a buffer read and then written inside one batch may cost Dawn a
 * barrier. (bench:dispatch's chain of 4-float adds read 15-21 against 12-16 us per dispatch with
 * every buffer reused at once, but its two variants also differ that much with this threshold,
 * where they behave alike: the machine's noise, not shown to be a cost.)
 * With `parkUntilSubmit` (knob FFM_POOL_PARK=1, the rule before session 18) every handed-back
 * buffer waits for the next submit.
 *
 * Each bucket hands out its oldest free buffer (lowest creation number) first. Then a repeated
 * computation (a training step, a tile, a forward) receives the same buffers in the same roles
 * every time, whatever order the previous one released them in, and the runtime's bind groups,
 * which are keyed by buffers, are found again instead of made anew.
 */

/** Buffers from this size up are handed out again inside the batch that released them (see BufferPool). */
export const IN_BATCH_REUSE_BYTES = 1 << 20;

/**
 * A large request with no idle buffer of its own bucket takes an idle one of up to twice its
 * bucket before a new buffer is made (bindings are sized by the request, so the slack is never
 * read). A one-piece forward runs every resolution level and channel count, and each level's
 * Winograd operands are buckets of their own, so exact buckets alone kept about 1 GiB for a 520 px
 * pair against 133 MiB for the tiles; on this VM a new buffer's first touch costs about 3.3 ms per
 * MiB (1 GiB written for the first time 4.1 s, again 0.67 s), which a one-shot `fusionfm fuse`
 * pays in full. With the fit (`cold-fuse.js --size 520x520 --tiles whole`, 4 alternating rounds,
 * bench/results/cold-fuse-520-whole-pool-fit-session21.json): pool 1,051 -> 720 MiB, peak RSS
 * 1,276 -> 950 MiB, the first fusion faster in every round (by 0.6-2.4 s), the second the same;
 * warm 640x480 fusion unchanged (2,043 / 2,057 ms one piece, 4,167 / 4,173 tiles,
 * flow-speed-*-session21-pool-fit.json). The default recipe's training step (scratch probe, 8
 * steps): pool 248 -> 220 MiB at 64 px crops, 981 -> 883 MiB at 128 px, step time level (387 / 399
 * and 1,335 / 1,340 ms). Knob FFM_POOL_FIT=1 keeps each request to its own bucket.
 */
export const POOL_FIT_RATIO = 2;

/** Sizes are rounded to a bucket so buffers of nearby sizes can serve each other. */
export function bucketSize(bytes: number): number {
  const b = Math.max(256, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  // four buckets per power of two: at most 25% slack
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

export interface PoolStats {
  /** buffers handed out and not yet released */
  liveBuffers: number;
  /** bytes of those buffers (bucketed sizes) */
  liveBytes: number;
  /** bytes of all GPU buffers this pool has created and not destroyed */
  allocatedBytes: number;
  /** buffers idle in the pool */
  freeBuffers: number;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private parked: GPUBuffer[] = [];
  private live = 0;
  private liveBytes = 0;
  private allocated = 0;
  private freeCount = 0;
  private order = new WeakMap<GPUBuffer, number>();
  private created = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly parkUntilSubmit = false,
    /** a request of IN_BATCH_REUSE_BYTES or more may take an idle buffer up to this many times its bucket (1: its bucket only) */
    private readonly fitRatio = POOL_FIT_RATIO,
  ) {}

  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    let buf = list?.pop() ?? this.largerIdle(size);
    if (buf) this.freeCount--;
    else {
      buf = this.device.createBuffer({ size, usage: this.usage });
      this.order.set(buf, this.created++);
      this.allocated += size;
    }
    this.live++;
    this.liveBytes += size;
    return buf;
  }

  /** The oldest idle buffer of the smallest bucket above `size` and within fitRatio of it (large requests only), taken out of the pool. */
  private largerIdle(size: number): GPUBuffer | undefined {
    if (this.fitRatio <= 1 || size < IN_BATCH_REUSE_BYTES) return undefined;
    let best = 0;
    for (const [k, list] of this.free) if (k > size && k <= this.fitRatio * size && list.length && (!best || k < best)) best = k;
    return best ? this.free.get(best)!.pop() : undefined;
  }

  /** Hands a buffer back (recorded, unsubmitted work may still read it: see the header). */
  release(buf: GPUBuffer): void {
    this.live--;
    this.liveBytes -= buf.size;
    if (this.parkUntilSubmit || buf.size < IN_BATCH_REUSE_BYTES) this.parked.push(buf);
    else this.makeFree(buf);
  }

  /** Called after each submit: parked buffers become reusable. */
  onSubmitted(): void {
    for (const b of this.parked) this.makeFree(b);
    this.parked.length = 0;
  }

  private makeFree(b: GPUBuffer): void {
    let list = this.free.get(b.size);
    if (!list) this.free.set(b.size, (list = []));
    // kept in descending creation order, so pop() gives the oldest
    const n = this.order.get(b)!;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.order.get(list[mid]!)! > n) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, b);
    this.freeCount++;
  }

  /** Destroys idle buffers (e.g. after a phase with a different working set). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) {
      this.allocated -= b.size;
      b.destroy();
    }
    this.free.clear();
    this.freeCount = 0;
  }

  stats(): PoolStats {
    return { liveBuffers: this.live, liveBytes: this.liveBytes, allocatedBytes: this.allocated, freeBuffers: this.freeCount };
  }
}
