/**
 * GPU time per kernel, from timestamp queries: between GpuRuntime.startProfiling and stopProfiling,
 * every dispatch runs in a compute pass of its own whose begin and end the device timestamps.
 * The extra pass boundaries add a little to each dispatch, so profile to find where time goes,
 * and time end to end (bench/) to measure speed.
 */
import { gpuWait } from './wait.js';

/** Time spent in one kernel variant (program, entry point and override constants). */
export interface KernelTime {
  kernel: string;
  dispatches: number;
  gpu_ms: number;
}

interface Batch {
  labels: string[];
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
}

export class DispatchProfiler {
  private labels: string[] = [];
  private querySet: GPUQuerySet | null = null;
  private pending: Batch[] = [];
  private totals = new Map<string, { dispatches: number; ns: bigint }>();

  constructor(
    private readonly device: GPUDevice,
    /** dispatches per submitted batch: the query set holds two timestamps for each */
    private readonly capacity: number,
  ) {
    if (!device.features.has('timestamp-query')) {
      throw new Error("kernel profiling needs the device feature 'timestamp-query', which this adapter or device lacks (open the runtime with { profile: true })");
    }
  }

  /** The pass descriptor that timestamps the next dispatch, named `label` in the report. */
  passFor(label: string): GPUComputePassDescriptor {
    this.querySet ??= this.device.createQuerySet({ type: 'timestamp', count: 2 * this.capacity });
    const i = this.labels.length;
    if (i >= this.capacity) throw new Error(`profiler: more than ${this.capacity} dispatches in one batch`);
    this.labels.push(label);
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } };
  }

  /** Records the copy of this batch's timestamps; call before the batch's encoder is finished. */
  beforeSubmit(encoder: GPUCommandEncoder): void {
    if (!this.querySet || this.labels.length === 0) return;
    const bytes = this.labels.length * 16;
    const resolve = this.device.createBuffer({ size: bytes, usage: 0x200 /* QUERY_RESOLVE */ | 0x04 /* COPY_SRC */ });
    const readback = this.device.createBuffer({ size: bytes, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.labels.length, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, bytes);
    this.pending.push({ labels: this.labels, querySet: this.querySet, resolve, readback });
    this.labels = [];
    this.querySet = null;
  }

  /** Reads every submitted batch's timestamps into the totals (the runtime must have flushed). */
  async collect(): Promise<void> {
    const batches = this.pending;
    this.pending = [];
    for (const b of batches) {
      await gpuWait(b.readback.mapAsync(0x0001 /* READ */));
      const stamps = new BigUint64Array(b.readback.getMappedRange().slice(0));
      b.labels.forEach((label, i) => {
        const t = this.totals.get(label) ?? { dispatches: 0, ns: 0n };
        const begin = stamps[2 * i]!;
        const end = stamps[2 * i + 1]!;
        t.dispatches++;
        if (end > begin) t.ns += end - begin;
        this.totals.set(label, t);
      });
      b.readback.destroy();
      b.resolve.destroy();
      b.querySet.destroy();
    }
  }

  /** Kernels by GPU time, most first. */
  report(): KernelTime[] {
    return [...this.totals]
      .map(([kernel, t]) => ({ kernel, dispatches: t.dispatches, gpu_ms: Number(t.ns) / 1e6 }))
      .sort((a, b) => b.gpu_ms - a.gpu_ms);
  }
}
