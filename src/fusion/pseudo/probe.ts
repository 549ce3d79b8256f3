/**
 * The Fusion Refiner's probes ("divide"): a small encoder-decoder P_S per source S, trained on
 * the engine to map the label F back to S. Whatever of S the label carries, P_S can reproduce;
 * detail the label lost cannot be recovered from it, so HP(S) - HP(P_S(F)) isolates exactly that
 * loss (detail.ts). The probe predicts a residual on F, so an untrained probe is close to the
 * identity.
 */
import { copyCrop, windowAt } from '../augment.js';
import { backward } from '../../autograd/backward.js';
import { tensor } from '../../autograd/create.js';
import { add, mseLoss } from '../../autograd/ops.js';
import { noGrad, scope, tidy } from '../../autograd/tensor.js';
import { withInitSeed } from '../../nn/module.js';
import { AdamW, warmupCosine } from '../../nn/optim.js';
import { UNet, type UNetConfig } from '../../nn/unet.js';
import { InputError } from '../../util/errors.js';
import type { ProgressSink } from '../../util/progress.js';
import { pcgHash, SeededRng } from '../../util/rng.js';
import { cropTopLeft, reflectWindow } from '../pad.js';

/** 8 -> 16 channels over two levels, no attention, no time input: about 20 k parameters. */
export const PROBE_UNET: UNetConfig = {
  inChannels: 1, outChannels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1,
  attention: false, heads: 1, groups: 4, timeDim: null, upsample: 'nearest',
};

export interface ProbeConfig {
  steps: number;
  batch: number;
  crop: number;
  lr: number;
  seed: number;
}

export const DEFAULT_PROBE: ProbeConfig = { steps: 300, batch: 8, crop: 48, lr: 3e-3, seed: 7 };

/** One training image for a probe: the label (input) and one source (target), same size. */
export interface ProbeSample {
  w: number;
  h: number;
  input: Float32Array;
  target: Float32Array;
}

export class Probe {
  readonly net: UNet;
  readonly losses: number[] = [];

  constructor(readonly name: string, readonly config: ProbeConfig = DEFAULT_PROBE) {
    this.net = withInitSeed(config.seed, () => new UNet(PROBE_UNET));
  }

  /** Trains on random aligned crops; returns the mean loss of the last tenth of the steps. */
  async train(samples: ProbeSample[], progress?: ProgressSink): Promise<number> {
    const c = this.config;
    if (!samples.length) throw new InputError(`probe ${this.name}: no training images`);
    const usable = samples.filter((s) => s.w >= c.crop && s.h >= c.crop);
    if (!usable.length) throw new InputError(`probe ${this.name}: every training image is smaller than the ${c.crop}x${c.crop} crop`);
    const opt = new AdamW(this.net.parameters(), { lr: c.lr, weightDecay: 0, clipNorm: 1 });
    const rng = new SeededRng(pcgHash(c.seed ^ 0x9e0b));
    const S = c.crop;
    const shape = [c.batch, 1, S, S];
    try {
      for (let step = 0; step < c.steps; step++) {
        const x = new Float32Array(c.batch * S * S);
        const y = new Float32Array(c.batch * S * S);
        for (let k = 0; k < c.batch; k++) {
          const s = usable[rng.int(usable.length)]!;
          const c = windowAt(rng.int(s.w - S + 1), rng.int(s.h - S + 1), S);
          copyCrop(s.input, s.w, c, x, k * S * S);
          copyCrop(s.target, s.w, c, y, k * S * S);
        }
        opt.lr = warmupCosine(step, c.steps, Math.min(20, c.steps >> 2), c.lr, c.lr * 0.05);
        const loss = await scope(async () => {
          this.net.zeroGrad();
          const xin = tensor(x, shape);
          const l = mseLoss(add(xin, this.net.forward(xin)), tensor(y, shape));
          backward(l);
          await opt.step();
          return l.item();
        });
        if (!Number.isFinite(loss)) throw new Error(`probe ${this.name}: loss ${loss} at step ${step}`);
        this.losses.push(loss);
        progress?.({ task: `probe ${this.name}`, done: step + 1, total: c.steps, values: { loss } });
      }
    } finally {
      opt.dispose();
    }
    const tail = this.losses.slice(-Math.max(1, Math.floor(this.losses.length / 10)));
    return tail.reduce((s, v) => s + v, 0) / tail.length;
  }

  /** P(F) for a whole plane of any size (reflect-padded to the net's multiple). */
  async apply(f: Float32Array, w: number, h: number): Promise<Float32Array> {
    const m = this.net.sizeMultiple;
    const pw = Math.ceil(w / m) * m;
    const ph = Math.ceil(h / m) * m;
    const out = noGrad(() => tidy(() => {
      const x = tensor(reflectWindow(f, w, h, 0, 0, pw, ph), [1, 1, ph, pw]);
      return add(x, this.net.forward(x));
    }));
    const full = await out.data();
    out.dispose();
    return cropTopLeft(full, pw, w, h);
  }

  dispose(): void {
    this.net.dispose();
  }
}
