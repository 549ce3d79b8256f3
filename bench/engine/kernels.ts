/**
 * Kernel benchmarks: conv2d 3x3 forward and backward, group norm, attention and a small U-Net
 * forward and training step, each against TF.js's WebGPU backend on the same adapter, interleaved in one run.
 *
 *   npm run bench:kernels [-- --out file.json] [--rounds 10] [--only conv,unet]
 *
 * Writes { bench, adapter, commit, command, records: {case, impl, adapter, median_ms, min_ms, max_ms, gflops}[] }
 * (files of earlier commits hold the bare records array).
 */
import type * as TF from '@tensorflow/tfjs-core';
import { conv2dInputGrad, conv2dWeightGrad } from '../../src/kernels/conv2d.js';
import { randn } from '../../src/autograd/create.js';
import { attention, conv2d, groupNorm, mseLoss } from '../../src/autograd/ops.js';
import { backward } from '../../src/autograd/backward.js';
import { noGrad, scope, tidy, useRuntime, type Tensor } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { withInitSeed } from '../../src/nn/module.js';
import { UNet } from '../../src/nn/unet.js';
import { AdamW } from '../../src/nn/optim.js';
import { loadTfGradients, loadTfPeer, mirrorUNet, toHWIO, toNHWC } from './tfjs-peer.js';
import { interleaved, round } from './timing.js';
import { PEER_UNET } from './peer-unet.js';

interface Record_ {
  case: string;
  impl: 'fusionfm' | 'tfjs-webgpu';
  adapter: string;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  gflops: number | null;
  runs: number;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const rt = await createNodeRuntime();
  const provenance = benchProvenance('kernels', rt.adapter.name);
  useRuntime(rt);
  const dawn = await import('webgpu');
  const peer = await loadTfPeer(dawn.create([]));
  const { tf } = peer;
  const adapter = rt.adapter.name;
  const rounds = Number(arg('rounds', '10'));
  const only = arg('only', '').split(',').filter(Boolean);
  const slug = adapterSlug(rt.adapter);
  const out = arg('out', `bench/results/kernels-${slug}.json`);
  const records: Record_[] = [];
  const want = (name: string) => !only.length || only.some((o) => name.startsWith(o));

  const add = (name: string, flops: number | null, timings: Record<string, { median_ms: number; min_ms: number; max_ms: number; runs: number }>) => {
    for (const [impl, t] of Object.entries(timings)) {
      records.push({ case: name, impl: impl as Record_['impl'], adapter, ...t, gflops: flops ? round(flops / (t.median_ms * 1e6)) : null });
    }
    const f = timings.fusionfm!;
    const p = timings['tfjs-webgpu']!;
    console.log(`${name.padEnd(34)} fusionfm ${f.median_ms.toFixed(2).padStart(8)} ms   tfjs-webgpu ${p.median_ms.toFixed(2).padStart(8)} ms   ratio ${(p.median_ms / f.median_ms).toFixed(2)}x${flops ? `   ${(flops / (f.median_ms * 1e6)).toFixed(1)} GFLOPS` : ''}`);
  };
  const ours = (fn: () => Tensor | Tensor[] | void) => async () => {
    tidy(() => {
      noGrad(() => fn());
    });
    await rt.sync();
  };
  const theirs = (fn: () => TF.Tensor | TF.Tensor[]) => async () => {
    tf.tidy(fn);
    await peer.sync();
  };

  const convShapes: [number, number, number][] = [[4, 32, 64], [1, 64, 128], [8, 128, 16]];
  for (const [N, C, S] of convShapes) {
    const flops = 2 * N * C * C * 9 * S * S;
    const x = randn([N, C, S, S], 1).keep();
    const w = randn([C, C, 3, 3], 2, 0.05).keep();
    const b = randn([C], 3).keep();
    const tx = toNHWC(tf, await x.data(), [...x.shape]);
    const tw = toHWIO(tf, await w.data(), [...w.shape]);
    const tb = tf.tensor1d(await b.data());
    const name = `conv3x3 N=${N} ${C}->${C} ${S}x${S}`;
    if (want('conv') && want(`conv3x3 N=${N}`)) {
      add(`${name} forward`, flops, await interleaved({
        fusionfm: ours(() => conv2d(x, w, b)),
        'tfjs-webgpu': theirs(() => tf.add(tf.conv2d(tx, tw, 1, 'same'), tb)),
      }, { warmup: 2, rounds }));
      const dy = randn([N, C, S, S], 4).keep();
      const tdy = toNHWC(tf, await dy.data(), [...dy.shape]);
      // the two kernels the conv2d gradient rule runs (the forward pass is not timed)
      add(`${name} backward (input+weight)`, 2 * flops, await interleaved({
        fusionfm: async () => {
          rt.free(conv2dInputGrad(rt, dy, w, x.shape).storage);
          rt.free(conv2dWeightGrad(rt, x, dy, w.shape).storage);
          await rt.sync();
        },
        // the registered gradient kernels, as tf.grads would run them (without the forward pass)
        'tfjs-webgpu': theirs(() => [
          tf.engine().runKernel('Conv2DBackpropInput', { dy: tdy, filter: tw }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: tx.shape }) as TF.Tensor,
          tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tdy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: tw.shape }) as TF.Tensor,
        ]),
      }, { warmup: 2, rounds }));
      dy.dispose();
      tdy.dispose();
    }
    x.dispose();
    w.dispose();
    b.dispose();
    tf.dispose([tx, tw, tb]);
  }

  if (want('groupnorm')) {
    const x = randn([4, 64, 64, 64], 5).keep();
    const g = randn([64], 6).keep();
    const bt = randn([64], 7).keep();
    const tx = toNHWC(tf, await x.data(), [...x.shape]);
    const tg = tf.tensor1d(await g.data());
    const tbt = tf.tensor1d(await bt.data());
    add('groupnorm (4,64,64,64) 32 groups', null, await interleaved({
      fusionfm: ours(() => groupNorm(x, 32, g, bt)),
      'tfjs-webgpu': theirs(() => {
        const r = tf.reshape(tx, [4, 64 * 64, 32, 2]);
        const { mean, variance } = tf.moments(r, [1, 3], true);
        const y = tf.reshape(tf.div(tf.sub(r, mean), tf.sqrt(tf.add(variance, 1e-5))), [4, 64, 64, 64]);
        return tf.add(tf.mul(y, tg), tbt);
      }),
    }, { warmup: 2, rounds }));
    x.dispose();
    tf.dispose([tx, tg, tbt]);
  }

  if (want('attention')) {
    // softmax(Q K^T / sqrt(d)) V over 16x16 = 256 tokens, 128 channels, one head, batch 1
    const [T, D] = [256, 128];
    const q = randn([1, D, T], 8).keep();
    const k = randn([1, D, T], 9).keep();
    const v = randn([1, D, T], 10).keep();
    const tq = tf.transpose(tf.tensor3d(await q.data(), [1, D, T]), [0, 2, 1]);
    const tk = tf.transpose(tf.tensor3d(await k.data(), [1, D, T]), [0, 2, 1]);
    const tv = tf.transpose(tf.tensor3d(await v.data(), [1, D, T]), [0, 2, 1]);
    add('attention 16x16 tokens, 128 channels', 4 * T * T * D, await interleaved({
      // the library's op: for a head this wide (D > 64, past the fused kernel's registers) its
      // materialised path, the scores transposed and normalised by columns (before 2026-12-05
      // the case timed the row-major matmul, softmax, matmul: 2.40x TF.js quiet at 21 rounds)
      fusionfm: ours(() => attention(q, k, v, 1 / Math.sqrt(D))),
      'tfjs-webgpu': theirs(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(tq, tk, false, true), 1 / Math.sqrt(D))), tv)),
    }, { warmup: 2, rounds }));
    q.dispose();
    k.dispose();
    v.dispose();
    tf.dispose([tq, tk, tv]);
  }

  if (want('unet')) {
    const net = withInitSeed(1, () => new UNet(PEER_UNET));
    const x = randn([1, 3, 128, 128], 11).keep();
    const tx = toNHWC(tf, await x.data(), [...x.shape]);
    const twin = await mirrorUNet(tf, net);
    // same function in both engines before timing
    const a = await noGrad(() => net.forward(x, [0.3])).data();
    const bt = twin(tx, [0.3]);
    const bNCHW = await tf.transpose(bt, [0, 3, 1, 2]).data();
    let err = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      err = Math.max(err, Math.abs(a[i]! - bNCHW[i]!));
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    console.log(`unet: fusionfm vs tfjs max abs diff ${err.toExponential(2)} (output scale ${scale.toFixed(3)})`);
    if (!(err <= 1e-3 * Math.max(1, scale))) throw new Error('the TF.js U-Net mirror does not compute the same function');
    const flops = net.flopsPerPixel(128, 128) * 128 * 128;
    add(`unet forward 128x128 (3->32->64->128)`, flops, await interleaved({
      fusionfm: ours(() => net.forward(x, [0.3])),
      'tfjs-webgpu': theirs(() => twin(tx, [0.3])),
    }, { warmup: 2, rounds }));
    console.log(`unet: ${net.parameterCount()} parameters, ${(flops / 1e9).toFixed(2)} GFLOP per 128x128 forward`);

    // one training step: forward, MSE against a fixed target, backward, Adam update of every weight
    const grads = await loadTfGradients().then(() => null, (e: Error) => e);
    if (grads) console.log(`unet training step: skipped, TF.js gradients not available (${grads.message.split('\n')[0]})`);
    else {
      const target = randn([1, 3, 128, 128], 12).keep();
      const ttarget = toNHWC(tf, await target.data(), [...target.shape]);
      const trainable = await mirrorUNet(tf, net, { trainable: true });
      const opt = new AdamW(net.parameters(), { lr: 1e-3, eps: 1e-8, weightDecay: 0 });
      const topt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
      const ourStep = () => scope(async () => {
        net.zeroGrad();
        const l = mseLoss(net.forward(x, [0.3]), target);
        backward(l);
        await opt.step();
        return l.item();
      });
      const theirStep = () => tf.tidy(() => topt.minimize(() => tf.mean(tf.squaredDifference(trainable(tx, [0.3]), ttarget)) as TF.Scalar, true, trainable.variables)!);
      // before timing: the same loss from the same weights, and after one update (lr 1e-3, so that
      // it moves the loss measurably) the same loss again: gradients and Adam agree
      const theirLoss = async () => {
        const tl = theirStep();
        const v = (await tl.data())[0]!;
        tl.dispose();
        return v;
      };
      const [l0, l0b] = [await ourStep(), await ourStep()];
      const [l1, l1b] = [await theirLoss(), await theirLoss()];
      console.log(`unet training step: loss fusionfm ${l0.toPrecision(6)} -> ${l0b.toPrecision(6)}, tfjs ${l1.toPrecision(6)} -> ${l1b.toPrecision(6)}`);
      if (!(Math.abs(l0 - l1) <= 1e-4 * Math.max(1, Math.abs(l0)))) throw new Error('the TF.js training step does not compute the same loss');
      if (!(Math.abs(l0b - l1b) <= 0.02 * Math.abs(l0 - l0b))) throw new Error('one Adam step moves the loss differently in TF.js: the gradients or the update differ');
      // about 3x the forward's FLOPs (forward, input gradients, weight gradients)
      add(`unet training step 128x128 (3->32->64->128, MSE, Adam)`, 3 * flops, await interleaved({
        fusionfm: async () => {
          await ourStep();
          await rt.sync();
        },
        'tfjs-webgpu': async () => {
          tf.dispose(theirStep());
          await peer.sync();
        },
      }, { warmup: 1, rounds }));
      target.dispose();
      tf.dispose([ttarget, ...trainable.variables]);
      opt.dispose();
    }
  }

  writeBenchReport(out, provenance, { records });
  rt.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
