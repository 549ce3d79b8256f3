/**
 * The workload that knob-ab and env-ab time: torch-peer's two nets (the 2.7 M U-Net at 128x128
 * and the FusionFM default net at 176x176), each as a forward and as a training step of batch 4
 * (forward, MSE, backward; the optimizer step is left out) at 128x128, and the FusionFM net's
 * step also at its training recipe's 64 px crops (what train:default runs).
 */
import { randn } from '../../src/autograd/create.js';
import { backward } from '../../src/autograd/backward.js';
import { mseLoss } from '../../src/autograd/ops.js';
import { noGrad, scope, tidy, type Tensor } from '../../src/autograd/tensor.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import type { GpuRuntime } from '../../src/gpu/runtime.js';
import { withInitSeed } from '../../src/nn/module.js';
import { UNet } from '../../src/nn/unet.js';
import { PEER_UNET } from './peer-unet.js';

export interface AbNet {
  name: string;
  net: UNet;
  /** forward input side */
  size: number;
  /** the training step's crop side */
  trainSize: number;
}

/** The nets, seeded: every process that builds them gets the same weights. */
export function abNets(): AbNet[] {
  return [
    { name: 'unet (3->32->64->128)', net: withInitSeed(1, () => new UNet(PEER_UNET)), size: 128, trainSize: 128 },
    { name: 'FusionFM default net', net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 176, trainSize: 128 },
    { name: 'FusionFM default net (recipe crops)', net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 176, trainSize: 64 },
  ];
}

/** One net's inputs (seeded) and its three timed actions; dispose() frees the inputs. */
export function abCase(rt: GpuRuntime, c: AbNet) {
  const x = randn([1, c.net.config.inChannels, c.size, c.size], 11).keep();
  const tx = randn([4, c.net.config.inChannels, c.trainSize, c.trainSize], 21).keep();
  const ty = randn([4, c.net.config.outChannels, c.trainSize, c.trainSize], 22, 0.1).keep();
  return {
    forwardCase: `${c.name} forward ${c.size}x${c.size}`,
    trainCase: `${c.name} forward + MSE + backward, batch 4 at ${c.trainSize}x${c.trainSize}`,
    /** the forward's output, read back (to check that variants agree) */
    output: async (): Promise<Float32Array> => {
      const y: Tensor = noGrad(() => c.net.forward(x, [0.3]));
      const d = await y.data();
      y.dispose();
      return d;
    },
    forward: async (): Promise<void> => {
      tidy(() => { noGrad(() => c.net.forward(x, [0.3])); });
      await rt.sync();
    },
    train: () => scope(async () => {
      c.net.zeroGrad();
      backward(mseLoss(c.net.forward(tx, [0.1, 0.4, 0.6, 0.9]), ty));
      await rt.sync();
    }),
    dispose: (): void => {
      c.net.zeroGrad();
      for (const a of [x, tx, ty]) a.dispose();
    },
  };
}

/** Largest absolute difference between each output and the first. */
export function maxAbsDiff(outputs: Float32Array[]): number {
  return Math.max(0, ...outputs.slice(1).map((o) => o.reduce((m, v, i) => Math.max(m, Math.abs(v - outputs[0]![i]!)), 0)));
}
