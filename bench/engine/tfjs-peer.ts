/**
 * The peer in kernel benchmarks: TensorFlow.js's WebGPU backend on the same adapter (bench
 * only; a dev dependency). It runs the same work as our kernels, in its native NHWC layout,
 * and the U-Net is rebuilt from our module tree with our weights so both compute the same
 * function (checked against our output before timing).
 */
import { register } from 'node:module';
import type * as TF from '@tensorflow/tfjs-core';
import type { UNet } from '../../src/nn/unet.js';
import type { ResBlock, SelfAttention2d } from '../../src/nn/blocks.js';
import type { Conv2d, GroupNorm } from '../../src/nn/layers.js';
import { sinusoidalEmbedding } from '../../src/nn/blocks.js';
import { gpuWait } from '../../src/gpu/wait.js';

export interface TfPeer {
  tf: typeof TF;
  /** waits until all submitted TF.js work has finished on the GPU (no readback) */
  sync(): Promise<void>;
  adapterName: string;
}

export async function loadTfPeer(gpu: GPU): Promise<TfPeer> {
  (globalThis as unknown as { navigator: unknown }).navigator = { gpu, userAgent: 'node' };
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  await tf.setBackend('webgpu');
  await tf.ready();
  const backend = tf.backend() as unknown as {
    device: GPUDevice;
    ensureCommandEncoderReady(): void;
    endComputePassEncoder(): void;
    submitQueue(): void;
    adapterInfo?: { vendor?: string; architecture?: string };
  };
  return {
    tf,
    adapterName: `${backend.adapterInfo?.vendor ?? ''} ${backend.adapterInfo?.architecture ?? ''}`.trim(),
    async sync() {
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.submitQueue();
      await gpuWait(backend.device.queue.onSubmittedWorkDone());
    },
  };
}

/**
 * Registers TF.js's gradient functions (needed to train the mirror; see tfjs-resolve-hook.ts).
 * Throws where tfjs-core's ESM files are absent (e.g. a trimmed GPU bundle).
 */
export async function loadTfGradients(): Promise<void> {
  register(new URL('./tfjs-resolve-hook.js', import.meta.url));
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js' as string);
}

/** NCHW host data -> NHWC tf tensor */
export function toNHWC(tf: typeof TF, data: Float32Array, [N, C, H, W]: number[]): TF.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, [N!, C!, H!, W!]), [0, 2, 3, 1]));
}

/** [Cout, Cin, K, K] -> [K, K, Cin, Cout] */
export function toHWIO(tf: typeof TF, data: Float32Array, [O, I, K, K2]: number[]): TF.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, [O!, I!, K!, K2!]), [2, 3, 1, 0]));
}

export type UNetMirror = ((x: TF.Tensor4D, t: number[] | null) => TF.Tensor4D) & { variables: TF.Variable[] };

/**
 * A TF.js mirror of our UNet with the same weights; with `trainable` the weights are TF.js
 * variables (listed in .variables) that an optimizer can train, else constants.
 */
export async function mirrorUNet(tf: typeof TF, net: UNet, { trainable = false } = {}): Promise<UNetMirror> {
  const w = new Map<object, TF.Tensor>();
  const vec = async (p: { data(): Promise<Float32Array> }, key: object) => w.set(key, tf.tensor1d(await p.data()));
  const mat = async (p: { data(): Promise<Float32Array>; shape: readonly number[] }) => w.set(p, tf.transpose(tf.tensor2d(await p.data(), [p.shape[0]!, p.shape[1]!])));
  for (const [, p] of net.namedParameters()) {
    if (p.shape.length === 4) w.set(p, toHWIO(tf, await p.data(), [...p.shape]));
    else if (p.shape.length === 2) await mat(p);
    else await vec(p, p);
  }
  const variables: TF.Variable[] = [];
  if (trainable) for (const [k, t] of w) {
    const v = tf.variable(t);
    t.dispose();
    variables.push(v);
    w.set(k, v);
  }
  const T = (p: object) => w.get(p)!;
  const conv2d = (x: TF.Tensor4D, c: Conv2d) => {
    const k = c.weight.shape[2]!;
    // our padding is symmetric (pad = 1 for 3x3): explicit padding matches it at any stride
    const pad = k === 3 ? ([[0, 0], [1, 1], [1, 1], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]]) : 'valid';
    const y = tf.conv2d(x, T(c.weight) as TF.Tensor4D, c.stride as 1 | 2, pad);
    return c.bias ? tf.add(y, T(c.bias)) as TF.Tensor4D : y;
  };
  const gn = (x: TF.Tensor4D, g: GroupNorm) => {
    const [N, H, W, C] = x.shape as [number, number, number, number];
    const r = tf.reshape(x, [N, H * W, g.groups, C / g.groups]);
    const { mean, variance } = tf.moments(r, [1, 3], true);
    const y = tf.reshape(tf.div(tf.sub(r, mean), tf.sqrt(tf.add(variance, g.eps))), [N, H, W, C]);
    return tf.add(tf.mul(y, T(g.weight)), T(g.bias)) as TF.Tensor4D;
  };
  const linear = (x: TF.Tensor2D, l: { weight: object; bias: object | null }) => {
    const y = tf.matMul(x, T(l.weight) as TF.Tensor2D) as TF.Tensor2D;
    return l.bias ? (tf.add(y, T(l.bias)) as TF.Tensor2D) : y;
  };
  const res = (x: TF.Tensor4D, b: ResBlock, temb: TF.Tensor2D | null) => {
    let h = conv2d(tf.mul(gn(x, b.norm1), tf.sigmoid(gn(x, b.norm1))) as TF.Tensor4D, b.conv1);
    if (b.temb && temb) {
      const e = linear(tf.mul(temb, tf.sigmoid(temb)) as TF.Tensor2D, b.temb);
      h = tf.add(h, tf.reshape(e, [e.shape[0], 1, 1, e.shape[1]])) as TF.Tensor4D;
    }
    const n2 = gn(h, b.norm2);
    h = conv2d(tf.mul(n2, tf.sigmoid(n2)) as TF.Tensor4D, b.conv2);
    return tf.add(b.skip ? conv2d(x, b.skip) : x, h) as TF.Tensor4D;
  };
  const attn = (x: TF.Tensor4D, a: SelfAttention2d) => {
    const [N, H, W, C] = x.shape;
    const dh = C / a.heads;
    const qkv = conv2d(gn(x, a.norm), a.qkv); // [N, H, W, 3C]
    const split = (i: number) => tf.transpose(tf.reshape(tf.slice(qkv, [0, 0, 0, i * C], [N, H, W, C]), [N, H * W, a.heads, dh]), [0, 2, 1, 3]);
    const q = tf.reshape(split(0), [N * a.heads, H * W, dh]);
    const k = tf.reshape(split(1), [N * a.heads, H * W, dh]);
    const v = tf.reshape(split(2), [N * a.heads, H * W, dh]);
    const p = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)));
    const o = tf.reshape(tf.transpose(tf.reshape(tf.matMul(p, v), [N, a.heads, H * W, dh]), [0, 2, 1, 3]), [N, H, W, C]);
    return tf.add(x, conv2d(o as TF.Tensor4D, a.proj)) as TF.Tensor4D;
  };
  const silu = (x: TF.Tensor4D) => tf.mul(x, tf.sigmoid(x)) as TF.Tensor4D;
  const forward = (x: TF.Tensor4D, t: number[] | null) =>
    tf.tidy(() => {
      let temb: TF.Tensor2D | null = null;
      if (net.time && t) {
        const e = tf.tensor2d(sinusoidalEmbedding(t, net.time.dim), [t.length, net.time.dim]);
        const h = linear(e, net.time.fc1);
        temb = linear(tf.mul(h, tf.sigmoid(h)) as TF.Tensor2D, net.time.fc2);
      }
      let h = conv2d(x, net.convIn);
      const skips: TF.Tensor4D[] = [h];
      for (const level of net.down) {
        for (const b of level.blocks) skips.push((h = res(h, b, temb)));
        if (level.downsample) skips.push((h = conv2d(h, level.downsample.conv)));
      }
      h = res(h, net.mid1, temb);
      if (net.midAttn) h = attn(h, net.midAttn);
      h = res(h, net.mid2, temb);
      for (const level of net.up) {
        for (const b of level.blocks) h = res(tf.concat([h, skips.pop()!], 3), b, temb);
        if (level.upsample) {
          const [N, H, W, C] = h.shape;
          h = conv2d(tf.image.resizeNearestNeighbor(h, [2 * H, 2 * W]) as TF.Tensor4D, level.upsample.conv);
          void N;
          void C;
        }
      }
      return conv2d(silu(gn(h, net.normOut)), net.convOut);
    });
  return Object.assign(forward, { variables });
}
