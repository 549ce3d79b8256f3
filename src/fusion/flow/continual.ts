/**
 * Continual flow-matching training: one velocity net learns tasks in sequence (default IVF ->
 * MIF -> MEF -> MFF), kept from forgetting by
 *   - EWC: after each task, the diagonal Fisher of the flow-matching loss over `fisherSamples`
 *     crops of that task (one sample per backward pass), scaled to mean 1 (over all parameters,
 *     or per tensor with fisherScale 'tensor'), merged with the
 *     earlier tasks' penalties and applied inside the AdamW kernel as lambda F (p - anchor);
 *   - experience replay: a reservoir of every task's crops (per-task quota), a `replayRatio`
 *     share of each batch drawn from the earlier tasks' crops.
 * Each task gets its own warm-up + cosine schedule of `stepsPerTask` steps. The state (current
 * task, EWC tensors, replay buffer) round-trips through host tensors for exact resume.
 */
import { copyCrop, windowAt } from '../augment.js';
import { tensor } from '../../autograd/create.js';
import type { Tensor } from '../../autograd/tensor.js';
import type { Parameter } from '../../nn/module.js';
import { estimateFisher, mergeEwc, normaliseFisher, type EwcState, type FisherScale } from '../../nn/fisher.js';
import type { HostTensor } from '../../nn/safetensors.js';
import { InputError } from '../../util/errors.js';
import type { ProgressSink } from '../../util/progress.js';
import { pcgHash, SeededRng } from '../../util/rng.js';
import { ReplayBuffer } from './replay.js';
import { FlowTrainer, trainingLoss, type TrainConfig, type TrainerMeta, type Triple } from './trainer.js';

export interface ContinualConfig {
  tasks: string[];
  stepsPerTask: number;
  /** EWC strength on the mean-1 Fisher; 0 turns EWC off */
  ewcLambda: number;
  fisherSamples: number;
  /** replay crops kept per task; 0 turns replay off */
  replayQuota: number;
  replayRatio: number;
  /** how the Fisher is scaled before lambda weighs it (nn/fisher.ts); absent: 'global' */
  fisherScale?: FisherScale;
  /**
   * a fresh AdamW (moments and bias correction) at each task's start (absent: off). Carried
   * moments let the second moment, with a memory of ~1/(1 - beta2) = 1,000 steps, scale the new
   * task's steps by the old tasks' gradient sizes.
   */
  resetOptimizer?: boolean;
}

// lambda 0.01: the best validation ACC on held-out training pairs (bench/continual/continual-select.ts,
// bench/results/continual/lambda-selection), and with the shipped net the best test BWT of the main variants
export const DEFAULT_CONTINUAL: Omit<ContinualConfig, 'tasks'> = { stepsPerTask: 500, ewcLambda: 0.01, fisherSamples: 64, replayQuota: 64, replayRatio: 0.25 };

export interface ContinualMeta {
  taskIndex: number;
  fisherMeans: number[];
  replay: ReturnType<ReplayBuffer['toTensors']>['meta'] | null;
}

export class ContinualTrainer {
  readonly trainer: FlowTrainer;
  ewc: EwcState | null = null;
  taskIndex = 0;
  readonly fisherMeans: number[] = [];

  constructor(readonly train: TrainConfig, readonly cc: ContinualConfig, readonly dataByTask: Map<string, Triple[]>) {
    if (!cc.tasks.length) throw new InputError('continual training: no tasks');
    for (const t of cc.tasks) if (!dataByTask.get(t)?.length) throw new InputError(`continual training: no training pairs for task '${t}'`);
    if (!(cc.replayRatio >= 0 && cc.replayRatio < 1)) throw new InputError(`--replay-ratio must be in [0, 1), got ${cc.replayRatio}`);
    if (!(cc.ewcLambda >= 0)) throw new InputError(`--ewc-lambda must be >= 0, got ${cc.ewcLambda}`);
    // each task's warm-up is at most a tenth of its steps (short tasks would otherwise spend most of their budget warming up)
    this.trainer = new FlowTrainer({ ...train, steps: cc.stepsPerTask, warmup: Math.min(train.warmup, Math.ceil(cc.stepsPerTask / 10)) }, dataByTask.get(cc.tasks[0]!)!);
    if (cc.replayQuota > 0) {
      this.trainer.replay = new ReplayBuffer(cc.replayQuota, train.crop);
      this.trainer.replayRatio = cc.replayRatio;
    }
    this.enter(0);
  }

  get totalSteps(): number {
    return this.cc.tasks.length * this.cc.stepsPerTask;
  }

  get done(): boolean {
    return this.taskIndex >= this.cc.tasks.length;
  }

  private enter(i: number): void {
    if (i >= this.cc.tasks.length) return;
    const t = this.cc.tasks[i]!;
    this.trainer.setData(this.dataByTask.get(t)!);
    this.trainer.task = t;
    this.trainer.phaseStart = i * this.cc.stepsPerTask;
    this.trainer.phaseSteps = this.cc.stepsPerTask;
  }

  /**
   * Diagonal Fisher (not normalised) of the current task's flow-matching loss at the current
   * weights, over `fisherSamples` seeded crops of its training pairs, one sample per backward pass.
   */
  async estimateTaskFisher(): Promise<Map<Parameter, Tensor>> {
    const task = this.cc.tasks[this.taskIndex]!;
    const data = this.dataByTask.get(task)!;
    const S = this.train.crop;
    const rng = new SeededRng(pcgHash(this.train.seed * 7919 + this.taskIndex + 1));
    const net = this.trainer.net;
    return estimateFisher(net.parameters(), this.cc.fisherSamples, (i) => {
      const d = data[rng.int(data.length)]!;
      const c = windowAt(rng.int(d.w - S + 1), rng.int(d.h - S + 1), S);
      const crop = (src: Float32Array) => tensor(copyCrop(src, d.w, c, new Float32Array(S * S)), [1, 1, S, S]);
      return trainingLoss(net, this.train, crop(d.a), crop(d.b), crop(d.label), [rng.next()], pcgHash(this.train.seed + 31 * i), [task]);
    });
  }

  /** The current task's Fisher, scaled to mean 1 (globally or per tensor), merged into the penalty. */
  private async consolidate(): Promise<void> {
    if (!(this.cc.ewcLambda > 0)) return;
    const fisher = await this.estimateTaskFisher();
    this.fisherMeans.push(await normaliseFisher(fisher, this.cc.fisherScale));
    this.ewc = mergeEwc(this.ewc, fisher, this.trainer.net.parameters());
    for (const f of fisher.values()) f.dispose();
    this.trainer.opt.ewc = { lambda: this.cc.ewcLambda, fisher: this.ewc.fisher, anchor: this.ewc.anchor };
  }

  /**
   * Trains until every task is done. onStep runs after each step (global step number);
   * onTaskEnd after a task's consolidation (its index), when a checkpoint of that task is due.
   */
  async run(progress: ProgressSink, onStep?: (step: number) => Promise<void>, onTaskEnd?: (index: number) => Promise<void>): Promise<void> {
    while (!this.done) {
      const i = this.taskIndex;
      await this.trainer.run((i + 1) * this.cc.stepsPerTask, (e) => progress({ ...e, task: `train ${this.cc.tasks[i]}`, total: this.totalSteps }), onStep);
      await this.consolidate();
      this.taskIndex++;
      this.enter(this.taskIndex);
      if (this.cc.resetOptimizer && !this.done) this.trainer.opt.resetMoments();
      await onTaskEnd?.(i);
    }
  }

  async state(): Promise<{ tensors: Map<string, HostTensor>; meta: TrainerMeta & { continual: ContinualMeta } }> {
    const st = await this.trainer.state();
    if (this.ewc) {
      for (const [name, p] of this.trainer.net.namedParameters()) {
        st.tensors.set(`ewc_fisher.${name}`, { shape: [...p.shape], data: await this.ewc.fisher.get(p)!.data() });
        st.tensors.set(`ewc_anchor.${name}`, { shape: [...p.shape], data: await this.ewc.anchor.get(p)!.data() });
      }
    }
    let replay: ContinualMeta['replay'] = null;
    if (this.trainer.replay) {
      const r = this.trainer.replay.toTensors();
      for (const [k, v] of r.tensors) st.tensors.set(k, v);
      replay = r.meta;
    }
    return { tensors: st.tensors, meta: { ...st.meta, continual: { taskIndex: this.taskIndex, fisherMeans: [...this.fisherMeans], replay } } };
  }

  restore(tensors: Map<string, HostTensor>, meta: TrainerMeta & { continual?: ContinualMeta }, source: string): void {
    this.trainer.restore(tensors, meta, source);
    const c = meta.continual;
    if (!c) throw new InputError(`${source}: not the state of a continual run`);
    this.taskIndex = c.taskIndex;
    this.fisherMeans.splice(0, this.fisherMeans.length, ...c.fisherMeans);
    const named = this.trainer.net.namedParameters();
    if (named.length && tensors.has(`ewc_fisher.${named[0]![0]}`)) {
      const ewc: EwcState = { fisher: new Map(), anchor: new Map() };
      for (const [name, p] of named) {
        const f = tensors.get(`ewc_fisher.${name}`);
        const a = tensors.get(`ewc_anchor.${name}`);
        if (!f || !a) throw new InputError(`${source}: EWC tensors of '${name}' are missing`);
        ewc.fisher.set(p, tensor(f.data, p.shape).keep());
        ewc.anchor.set(p, tensor(a.data, p.shape).keep());
      }
      this.ewc = ewc;
      this.trainer.opt.ewc = { lambda: this.cc.ewcLambda, fisher: ewc.fisher, anchor: ewc.anchor };
    }
    if (c.replay) this.trainer.replay = ReplayBuffer.fromTensors(tensors, c.replay, source);
    this.enter(this.taskIndex);
  }

  dispose(): void {
    if (this.ewc) for (const t of [...this.ewc.fisher.values(), ...this.ewc.anchor.values()]) t.dispose();
    this.trainer.dispose();
  }
}
