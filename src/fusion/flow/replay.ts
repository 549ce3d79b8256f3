/**
 * Experience replay for continual training: a memory of training crops (sources and label,
 * already cropped and flipped) with a per-task quota, filled by reservoir sampling so that each
 * crop a task ever trained on had the same chance to be kept. Serialises to named host tensors
 * and JSON, so a resumed run continues with the same buffer.
 */
import type { HostTensor } from '../../nn/safetensors.js';
import { InputError } from '../../util/errors.js';
import type { SeededRng } from '../../util/rng.js';

export interface ReplayCrop {
  task: string;
  a: Float32Array;
  b: Float32Array;
  label: Float32Array;
}

export class ReplayBuffer {
  private readonly slots = new Map<string, ReplayCrop[]>();
  private readonly seen = new Map<string, number>();

  /** quota: crops kept per task; crop: their side. */
  constructor(readonly quota: number, readonly crop: number) {
    if (!Number.isInteger(quota) || quota < 0) throw new InputError(`replay: the per-task quota must be a non-negative integer, got ${quota}`);
  }

  get size(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.length;
    return n;
  }

  tasks(): string[] {
    return [...this.slots.keys()].sort();
  }

  /** Offers a crop of `task` (reservoir sampling, Vitter's algorithm R). */
  offer(c: ReplayCrop, rng: SeededRng): void {
    if (!this.quota) return;
    const s = this.slots.get(c.task) ?? [];
    this.slots.set(c.task, s);
    const n = (this.seen.get(c.task) ?? 0) + 1;
    this.seen.set(c.task, n);
    const copy = { task: c.task, a: c.a.slice(), b: c.b.slice(), label: c.label.slice() };
    if (s.length < this.quota) s.push(copy);
    else {
      const j = rng.int(n);
      if (j < this.quota) s[j] = copy;
    }
  }

  /** A uniformly drawn stored crop of any task except `exclude` (the one being trained), or null. */
  sample(rng: SeededRng, exclude?: string): ReplayCrop | null {
    const pool = this.tasks().filter((t) => t !== exclude).flatMap((t) => this.slots.get(t)!);
    return pool.length ? pool[rng.int(pool.length)]! : null;
  }

  countOf(task: string): number {
    return this.slots.get(task)?.length ?? 0;
  }

  toTensors(): { tensors: Map<string, HostTensor>; meta: { quota: number; crop: number; seen: Record<string, number>; counts: Record<string, number> } } {
    const tensors = new Map<string, HostTensor>();
    const S = this.crop;
    const counts: Record<string, number> = {};
    for (const t of this.tasks()) {
      const s = this.slots.get(t)!;
      counts[t] = s.length;
      if (!s.length) continue;
      for (const k of ['a', 'b', 'label'] as const) {
        const data = new Float32Array(s.length * S * S);
        s.forEach((c, i) => data.set(c[k], i * S * S));
        tensors.set(`replay.${t}.${k}`, { shape: [s.length, 1, S, S], data });
      }
    }
    return { tensors, meta: { quota: this.quota, crop: S, seen: Object.fromEntries(this.seen), counts } };
  }

  static fromTensors(tensors: Map<string, HostTensor>, meta: { quota: number; crop: number; seen: Record<string, number>; counts: Record<string, number> }, source: string): ReplayBuffer {
    const r = new ReplayBuffer(meta.quota, meta.crop);
    const S = meta.crop;
    for (const [t, n] of Object.entries(meta.counts)) {
      const s: ReplayCrop[] = [];
      const get = (k: string) => {
        const x = tensors.get(`replay.${t}.${k}`);
        if (n && (!x || x.data.length !== n * S * S)) throw new InputError(`${source}: replay crops of task '${t}' are missing or truncated`);
        return x?.data;
      };
      const [a, b, l] = [get('a'), get('b'), get('label')];
      for (let i = 0; i < n; i++) s.push({ task: t, a: a!.slice(i * S * S, (i + 1) * S * S), b: b!.slice(i * S * S, (i + 1) * S * S), label: l!.slice(i * S * S, (i + 1) * S * S) });
      r.slots.set(t, s);
      r.seen.set(t, meta.seen[t] ?? n);
    }
    return r;
  }
}
