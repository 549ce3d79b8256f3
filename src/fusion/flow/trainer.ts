/**
 * Flow-matching training on crops of (xA, xB, label) luminance triples: AdamW with warm-up and
 * cosine decay, gradient clipping, EMA weights, seeded crops/flips/times, and a state that
 * can be saved and restored so that a resumed run continues exactly (same weights, optimizer
 * moments, EMA and data order). Files are the caller's business (src/cli/train.ts).
 */
import { copyCrop, drawCrop } from '../augment.js';
import { backward } from '../../autograd/backward.js';
import { tensor } from '../../autograd/create.js';
import { scope, type Tensor } from '../../autograd/tensor.js';
import { withInitSeed } from '../../nn/module.js';
import { AdamW, warmupCosine } from '../../nn/optim.js';
import type { HostTensor } from '../../nn/safetensors.js';
import { loadStateDict, stateDict } from '../../nn/state.js';
import { InputError } from '../../util/errors.js';
import type { ProgressSink } from '../../util/progress.js';
import { pcgHash, SeededRng, uniformAt } from '../../util/rng.js';
import { ddpmLoss, DDPM_STEPS } from '../diffusion/ddpm.js';
import { Ema, emaWarmupDecay } from './ema.js';
import { flowMatchingLoss } from './loss.js';
import type { Objective } from './model-file.js';
import { DEFAULT_VELOCITY, VelocityNet, type VelocityConfig } from './model.js';
import type { Coupling } from './path.js';
import type { ReplayBuffer } from './replay.js';

/** One training triple: luminance planes of the sources and the label, same size. */
export interface Triple {
  name: string;
  w: number;
  h: number;
  a: Float32Array;
  b: Float32Array;
  label: Float32Array;
  /** batches draw a group uniformly, then a pair within it (e.g. one group per task) */
  group?: string;
}

export interface TrainConfig {
  model: VelocityConfig;
  coupling: Coupling;
  steps: number;
  batch: number;
  crop: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  clipNorm: number;
  emaDecay: number;
  seed: number;
  /** 'flow' (flow matching, the default when absent) or 'ddpm' (the diffusion baseline: noise prediction, coupling unused) */
  objective?: Objective;
  /** pixels at each crop border seen as context but left out of the flow-matching loss (absent: 0) */
  lossMargin?: number;
  /** weight of the edge term of the flow-matching loss (FlowLossOptions.gradWeight; absent: 0) */
  gradLoss?: number;
  /** weight of the texture term (FlowLossOptions.textureWeight; absent: 0) */
  textureLoss?: number;
  /**
   * tasks whose crops exchange source A and B with probability 1/2 (absent: none). For tasks whose
   * sources have no fixed roles (multi-focus: which one is sharp where; multi-exposure), so the net
   * learns a rule symmetric in the two instead of which slot tends to hold the answer.
   */
  swapSources?: readonly string[];
  /**
   * EMA warm-up (absent: off): the EMA decay follows emaWarmupDecay from each phase's start (each
   * task's, in continual runs), so the EMA restarts with the phase and spans a window matched to
   * its length instead of carrying the weights of earlier tasks.
   */
  emaWarmup?: boolean;
  /**
   * A training pair's group (its task, in a joint run) is drawn with probability proportional to
   * its weight here (absent: uniformly; a group not named weighs 1): a joint run can spend more of
   * its steps on the tasks furthest from their target without changing the others' data.
   */
  taskWeights?: Readonly<Record<string, number>>;
  /**
   * Fraction of each batch's samples (drawn per sample from the step's seed, not from the data
   * order, so batches stay those of a run without it) whose x_t lies on the path to the net's own
   * one-step prediction (FlowLossOptions.ownPath; absent: 0). Costs one forward pass without
   * gradient per step.
   */
  ownPath?: number;
  /**
   * Per task, the weight of the loss's choice term (FlowLossOptions.choiceWeight) on its samples
   * (absent: none; a task not named: 0). Blend head only.
   */
  choiceLoss?: Readonly<Record<string, number>>;
  /**
   * Mixed crop sizes (absent: every step draws `batch` crops of `crop`): every `every`-th step
   * draws `batch` crops of `crop` px instead, so the net also learns at sizes nearer the tiles it
   * fuses in (its GroupNorm statistics and attention span the whole input, so a net fitted on
   * small crops alone drifts at tile size). Such steps neither draw from nor feed the replay buffer,
   * whose crops have the common size.
   */
  mixedCrop?: { crop: number; batch: number; every: number };
}

export const DEFAULT_TRAIN: TrainConfig = {
  model: DEFAULT_VELOCITY,
  coupling: 'sum',
  steps: 2000,
  batch: 4,
  crop: 64,
  lr: 1e-3,
  warmup: 100,
  weightDecay: 1e-4,
  clipNorm: 1,
  emaDecay: 0.999,
  seed: 1,
};

/** What a resumed run needs besides the tensors. */
export interface TrainerMeta {
  step: number;
  rng: number;
  optStep: number;
  losses: number[];
}

/** keys the own-path draws apart from the coupling's noise, which uses the same step seed */
const OWN_PATH_STREAM = 0x0a11ed;

/**
 * The loss the configuration trains: flow matching (u is the time t in [0, 1]) or, for the
 * diffusion baseline, DDPM noise prediction (u picks the step floor(u T)). One per batch.
 */
export function trainingLoss(net: VelocityNet, c: TrainConfig, xA: Tensor, xB: Tensor, x1: Tensor, u: readonly number[], seed: number, task?: readonly string[]): Tensor {
  if (c.objective === 'ddpm') return ddpmLoss(net, xA, xB, x1, u.map((v) => Math.min(DDPM_STEPS - 1, Math.floor(v * DDPM_STEPS))), seed, task);
  const p = c.ownPath ?? 0;
  const ownPath = p > 0 ? u.map((_, k) => uniformAt(seed ^ OWN_PATH_STREAM, k) < p) : undefined;
  const choiceWeight = c.choiceLoss && task ? task.map((k) => c.choiceLoss![k] ?? 0) : undefined;
  return flowMatchingLoss(net, xA, xB, x1, u, c.coupling, { seed, margin: c.lossMargin ?? 0, gradWeight: c.gradLoss ?? 0, textureWeight: c.textureLoss ?? 0, task, ownPath, choiceWeight });
}

/** Exchanges a[at, at + n) with b[at, at + n). */
function swapSpans(a: Float32Array, b: Float32Array, at: number, n: number): void {
  const tmp = a.slice(at, at + n);
  a.set(b.subarray(at, at + n), at);
  b.set(tmp, at);
}

export class FlowTrainer {
  readonly net: VelocityNet;
  readonly opt: AdamW;
  readonly ema: Ema;
  readonly rng: SeededRng;
  step = 0;
  readonly losses: number[] = [];
  private groups: Triple[][] = [];
  /** cumulative draw weights of groups (null: uniform, drawn as before weights existed) */
  private groupCdf: number[] | null = null;
  data: Triple[] = [];
  /** the task being trained: replay stores its crops under this name and replays the others */
  task = '';
  /** the learning-rate schedule restarts at phaseStart and spans phaseSteps (one per task in continual runs) */
  phaseStart = 0;
  phaseSteps: number;
  replay: ReplayBuffer | null = null;
  /** fraction of each batch drawn from the replay buffer (when it holds other tasks' crops) */
  replayRatio = 0;

  constructor(readonly config: TrainConfig, data: Triple[]) {
    this.phaseSteps = config.steps;
    this.setData(data);
    this.net = withInitSeed(config.seed, () => new VelocityNet(config.model));
    const m = this.net.sizeMultiple;
    for (const [what, S] of [['crop', config.crop], ['mixed crop', config.mixedCrop?.crop]] as const) {
      if (S !== undefined && S % m !== 0) throw new InputError(`training: the ${what} (${S} px) must be a multiple of ${m}, the net's size multiple`);
    }
    this.opt = new AdamW(this.net.parameters(), { lr: config.lr, weightDecay: config.weightDecay, clipNorm: config.clipNorm });
    this.ema = new Ema(this.net.parameters(), config.emaDecay);
    this.rng = new SeededRng(pcgHash(config.seed ^ 0x5eed));
  }

  /** The pairs batches are drawn from (switched per task in continual training). */
  setData(data: Triple[]): void {
    if (!data.length) throw new InputError('training: no training pairs');
    const S = Math.max(this.config.crop, this.config.mixedCrop?.crop ?? 0);
    for (const d of data) if (d.w < S || d.h < S) throw new InputError(`training: pair '${d.name}' is ${d.w}x${d.h}, smaller than the ${S}x${S} crop`);
    const byGroup = new Map<string, Triple[]>();
    for (const d of data) byGroup.set(d.group ?? '', [...(byGroup.get(d.group ?? '') ?? []), d]);
    const keys = [...byGroup.keys()].sort();
    this.groups = keys.map((k) => byGroup.get(k)!);
    const w = this.config.taskWeights;
    let total = 0;
    this.groupCdf = w && keys.length > 1 ? keys.map((k) => (total += w[k] ?? 1)) : null;
    this.data = data;
  }

  /** Index of the next batch sample's group: uniform, or by taskWeights. */
  private drawGroup(): number {
    const cdf = this.groupCdf;
    if (!cdf) return this.rng.int(this.groups.length);
    const u = this.rng.next() * cdf[cdf.length - 1]!;
    const i = cdf.findIndex((c) => u < c);
    return i < 0 ? cdf.length - 1 : i;
  }

  /** The task of a training pair: its group (a dataset's task) or, without one, the task being trained. */
  taskOf(d: Triple): string {
    return d.group || this.task;
  }

  /** The crop side and batch of the current step (mixedCrop's on every `every`-th step). */
  stepShape(): { crop: number; batch: number; mixed: boolean } {
    const m = this.config.mixedCrop;
    if (m && this.step % m.every === m.every - 1) return { crop: m.crop, batch: m.batch, mixed: true };
    return { crop: this.config.crop, batch: this.config.batch, mixed: false };
  }

  /**
   * The next batch of aligned random crops with random flips (and source swaps), as [B, 1, S, S]
   * host arrays (S and B: stepShape()'s), with each sample's time and task; advances the data order.
   */
  drawBatch(): { a: Float32Array; b: Float32Array; x1: Float32Array; t: number[]; task: string[] } {
    const { batch: B, crop: S, mixed } = this.stepShape();
    const a = new Float32Array(B * S * S);
    const b = new Float32Array(B * S * S);
    const x1 = new Float32Array(B * S * S);
    const t: number[] = [];
    const task: string[] = [];
    const replay = mixed ? null : this.replay;
    const others = replay ? replay.size - replay.countOf(this.task) : 0;
    const nReplay = others > 0 ? Math.round(this.replayRatio * B) : 0;
    for (let k = 0; k < B; k++) {
      const at = k * S * S;
      if (k >= B - nReplay) {
        const c = replay!.sample(this.rng, this.task)!;
        a.set(c.a, at);
        b.set(c.b, at);
        x1.set(c.label, at);
        t.push(this.rng.next());
        task.push(c.task);
        continue;
      }
      const g = this.groups.length > 1 ? this.groups[this.drawGroup()]! : this.groups[0]!;
      const d = g[this.rng.int(g.length)]!;
      // the draw order (x, y, flipH, flipV) is drawCrop's, so seeded runs keep their batches
      const c = drawCrop(d.w, d.h, S, this.rng, d.name);
      copyCrop(d.a, d.w, c, a, at);
      copyCrop(d.b, d.w, c, b, at);
      copyCrop(d.label, d.w, c, x1, at);
      // drawn only where swapping applies, so that runs without it keep their seeded batches
      if (this.config.swapSources?.includes(this.task) && this.rng.next() < 0.5) swapSpans(a, b, at, S * S);
      t.push(this.rng.next());
      task.push(this.taskOf(d));
      replay?.offer({ task: this.task, a: a.subarray(at, at + S * S), b: b.subarray(at, at + S * S), label: x1.subarray(at, at + S * S) }, this.rng);
    }
    return { a, b, x1, t, task };
  }

  /** One optimisation step; returns the loss. */
  async trainStep(): Promise<number> {
    const c = this.config;
    this.opt.lr = warmupCosine(this.step - this.phaseStart, this.phaseSteps, c.warmup, c.lr, c.lr * 0.05);
    const { batch, crop } = this.stepShape();
    const h = this.drawBatch();
    const shape = [batch, 1, crop, crop];
    const loss = await scope(async () => {
      this.net.zeroGrad();
      const l = trainingLoss(this.net, c, tensor(h.a, shape), tensor(h.b, shape), tensor(h.x1, shape), h.t, pcgHash(c.seed + this.step), h.task);
      backward(l);
      await this.opt.step();
      return l.item();
    });
    if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss} at step ${this.step}`);
    this.ema.update(c.emaWarmup ? emaWarmupDecay(c.emaDecay, this.step - this.phaseStart) : c.emaDecay);
    this.step++;
    this.losses.push(loss);
    return loss;
  }

  async run(untilStep: number, progress: ProgressSink, onStep?: (step: number) => Promise<void>): Promise<void> {
    const t0 = performance.now();
    let samples = 0;
    while (this.step < untilStep) {
      samples += this.stepShape().batch;
      const loss = await this.trainStep();
      const rate = samples / ((performance.now() - t0) / 1000);
      progress({ task: 'train', done: this.step, total: this.config.steps, values: { loss, 'samples/s': rate, lr: this.opt.lr } });
      await onStep?.(this.step);
    }
  }

  /** Everything a resumed run needs, as named host tensors plus JSON-able metadata. */
  async state(): Promise<{ tensors: Map<string, HostTensor>; meta: TrainerMeta }> {
    const tensors = new Map<string, HostTensor>();
    const named = this.net.namedParameters();
    const o = this.opt.state();
    for (const [i, [name, p]] of named.entries()) {
      tensors.set(name, { shape: [...p.shape], data: await p.data() });
      tensors.set(`ema.${name}`, { shape: [...p.shape], data: await this.ema.shadow[i]!.data() });
      tensors.set(`adam_m.${name}`, { shape: [...p.shape], data: await o.m[i]!.data() });
      tensors.set(`adam_v.${name}`, { shape: [...p.shape], data: await o.v[i]!.data() });
    }
    return { tensors, meta: { step: this.step, rng: this.rng.position, optStep: this.opt.stepCount, losses: [...this.losses] } };
  }

  /**
   * Starts from another net's weights (fine-tuning): this net's weights and their EMA become
   * `from`'s; the optimiser, step and data order stay fresh. The nets must share an architecture.
   */
  async initFrom(from: VelocityNet, source: string): Promise<void> {
    const state = await stateDict(from);
    loadStateDict(this.net, state, source);
    this.net.namedParameters().forEach(([name], i) => this.ema.shadow[i]!.write(state.get(name)!.data));
  }

  /** Restores a state written by state(); shapes and names must match. */
  restore(tensors: Map<string, HostTensor>, meta: TrainerMeta, source: string): void {
    const named = this.net.namedParameters();
    const o = this.opt.state();
    named.forEach(([name, p], i) => {
      const put = (key: string, dst: Pick<Tensor, 'shape' | 'write'>) => {
        const t = tensors.get(key);
        if (!t || t.shape.length !== dst.shape.length || t.shape.some((d, k) => d !== dst.shape[k])) throw new InputError(`${source}: '${key}' is missing or has another shape (checkpoint of another architecture?)`);
        dst.write(t.data);
      };
      put(name, p);
      put(`ema.${name}`, this.ema.shadow[i]!);
      put(`adam_m.${name}`, o.m[i]!);
      put(`adam_v.${name}`, o.v[i]!);
    });
    this.step = meta.step;
    this.rng.position = meta.rng;
    this.opt.stepCount = meta.optStep;
    this.losses.splice(0, this.losses.length, ...meta.losses);
  }

  dispose(): void {
    this.ema.dispose();
    this.opt.dispose();
    this.net.dispose();
  }
}
