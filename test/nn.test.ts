import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward } from '../src/autograd/backward.js';
import { randn, tensor } from '../src/autograd/create.js';
import { add, attention, groupNorm, matmul, mseLoss, mul, reshape, silu, slice, softmax, sum, upsample2x, windowedAttention, withNormWindow } from '../src/autograd/ops.js';
import { noGrad, scope, tidy, useRuntime, type Tensor } from '../src/autograd/tensor.js';
import { createNodeRuntime } from '../src/gpu/node-device.js';
import { loadSafetensors, saveSafetensors } from '../src/io/checkpoint.js';
import { SelfAttention2d, ResBlock, timestepEmbedding } from '../src/nn/blocks.js';
import { Conv2d, GroupNorm, Linear } from '../src/nn/layers.js';
import { Module, withInitSeed } from '../src/nn/module.js';
import { AdamW } from '../src/nn/optim.js';
import { decodeSafetensors, encodeSafetensors } from '../src/nn/safetensors.js';
import { loadStateDict, stateDict } from '../src/nn/state.js';
import { UNet, DEFAULT_UNET } from '../src/nn/unet.js';
import { attentionRef } from '../src/kernels/reference/misc.js';
import { windowNormRef } from '../src/kernels/reference/norm.js';
import { gpu, maxRelErr } from './helpers.js';

/** Conv -> GroupNorm -> SiLU -> stride-2 conv -> attention -> bilinear upsample -> conv. */
class TinyNet extends Module {
  c1 = this.child('c1', new Conv2d(4, 16));
  n1 = this.child('n1', new GroupNorm(4, 16));
  down = this.child('down', new Conv2d(16, 16, { stride: 2 }));
  attn = this.child('attn', new SelfAttention2d(16, 2, 4));
  c2 = this.child('c2', new Conv2d(16, 3));
  forward(x: Tensor): Tensor {
    const h = this.attn.forward(this.down.forward(silu(this.n1.forward(this.c1.forward(x)))));
    return this.c2.forward(upsample2x(h, 'bilinear'));
  }
}

describe('nn: training a small network', () => {
  it('AdamW cuts the loss of a conv/groupnorm/attention/upsampling net at least 10x, leaks nothing over 50 steps and makes no new bind group in them', async () => {
    const rt = await gpu();
    const net = withInitSeed(1, () => new TinyNet());
    const x = randn([2, 4, 16, 16], 5).keep();
    const target = withInitSeed(2, () => {
      // a reachable target: a fixed random conv net's output
      const teacher = new TinyNet();
      const y = noGrad(() => teacher.forward(x)).keep();
      teacher.dispose();
      return y;
    });
    const opt = new AdamW(net.parameters(), { lr: 3e-3, weightDecay: 0 });
    const step = () =>
      scope(async () => {
        net.zeroGrad();
        const loss = mseLoss(net.forward(x), target);
        backward(loss);
        await opt.step();
        return loss.item();
      });
    const first = await step();
    let last = first;
    let stats0 = rt.stats();
    let groups0 = 0;
    for (let i = 1; i < 300; i++) {
      last = await step();
      if (i === 20) {
        stats0 = rt.stats();
        groups0 = rt.counters.bindGroupsCreated;
      }
      if (i === 70) {
        // the pool hands each step the same buffers, so the bind groups of step 20 serve every later step
        expect(rt.counters.bindGroupsCreated - groups0, 'bind groups made in 50 more steps').toBe(0);
        expect(rt.counters.autoLayoutPipelines, 'pipelines whose bindings were not read from their WGSL').toBe(0);
        const s = rt.stats();
        expect(s.liveBuffers, 'live buffers after 50 more steps').toBe(stats0.liveBuffers);
        expect(s.liveBytes, 'live bytes after 50 more steps').toBe(stats0.liveBytes);
        expect(s.allocatedBytes, 'allocated bytes after 50 more steps').toBe(stats0.allocatedBytes);
      }
    }
    expect(Number.isFinite(last)).toBe(true);
    expect(first / last, `loss ${first} -> ${last}`).toBeGreaterThan(10);
    net.dispose();
    opt.dispose();
    x.dispose();
    target.dispose();
  }, 600_000);
});

describe('nn: AdamW gradient clipping', () => {
  it('the global gradient norm (one gathered readback) is the float64 norm of every gradient; parameters without a gradient are skipped', async () => {
    await gpu();
    const net = withInitSeed(3, () => new Linear(5, 3));
    const idle = withInitSeed(4, () => new Linear(2, 2));
    const x = tensor(Float32Array.from({ length: 10 }, (_, i) => Math.sin(i + 1)), [2, 5]);
    const y = tensor(Float32Array.from({ length: 6 }, (_, i) => Math.cos(i)), [2, 3]);
    await scope(async () => backward(mseLoss(net.forward(x), y)));
    let sq = 0;
    for (const p of net.parameters()) for (const g of await p.grad!.data()) sq += g * g;
    const opt = new AdamW([...idle.parameters(), ...net.parameters()], { lr: 1e-3, clipNorm: 1e-6 });
    expect(await opt.gradNorm()).toBeCloseTo(Math.sqrt(sq), 6);
    expect(Math.sqrt(sq)).toBeGreaterThan(0.01);
    // the step clips to 1e-6 and reports the norm it clipped
    expect(await opt.step()).toBeCloseTo(Math.sqrt(sq), 6);
    opt.dispose();
    net.dispose();
    idle.dispose();
  });
});

describe('nn: AdamW moments reset', () => {
  it('after resetMoments the next step equals a fresh optimiser\'s step from the same weights and gradient', async () => {
    await gpu();
    const x = tensor(Float32Array.from({ length: 10 }, (_, i) => Math.sin(i + 1)), [2, 5]);
    const y = tensor(Float32Array.from({ length: 6 }, (_, i) => Math.cos(i)), [2, 3]);
    const grad = async (net: Linear) => { net.zeroGrad(); await scope(async () => backward(mseLoss(net.forward(x), y))); };
    const used = withInitSeed(3, () => new Linear(5, 3));
    const opt = new AdamW(used.parameters(), { lr: 1e-2, weightDecay: 0 });
    for (let i = 0; i < 3; i++) { await grad(used); await opt.step(); }
    opt.resetMoments();
    expect(opt.stepCount).toBe(0);
    // a fresh net and optimiser starting from the used net's weights
    const fresh = withInitSeed(3, () => new Linear(5, 3));
    for (const [i, p] of fresh.parameters().entries()) p.write(await used.parameters()[i]!.data());
    const opt2 = new AdamW(fresh.parameters(), { lr: 1e-2, weightDecay: 0 });
    await grad(used); await opt.step();
    await grad(fresh); await opt2.step();
    for (const [i, p] of used.parameters().entries()) expect(Array.from(await p.data())).toEqual(Array.from(await fresh.parameters()[i]!.data()));
    // without the reset the step differs (the carried moments matter)
    const again = withInitSeed(3, () => new Linear(5, 3));
    const opt3 = new AdamW(again.parameters(), { lr: 1e-2, weightDecay: 0 });
    for (let i = 0; i < 4; i++) { await grad(again); await opt3.step(); }
    expect(Array.from(await again.weight.data())).not.toEqual(Array.from(await used.weight.data()));
    for (const o of [opt, opt2, opt3]) o.dispose();
  });
});

describe('nn: AdamW over flat buffers', () => {
  /** Three steps of `net` from the same weights and gradients, with the flat step or (FFM_ADAMW_FLAT=0) one dispatch per parameter. */
  const train = async (flat: boolean, ewc: boolean) => {
    const prev = process.env.FFM_ADAMW_FLAT;
    process.env.FFM_ADAMW_FLAT = flat ? '1' : '0';
    try {
      const net = withInitSeed(5, () => new TinyNet());
      const opt = new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0.1, clipNorm: 0.05 });
      if (ewc) {
        const fisher = new Map(net.parameters().map((p, i) => [p, tensor(Float32Array.from({ length: p.size }, (_, k) => 0.5 + 0.4 * Math.sin(i + k)), p.shape).keep()] as const));
        const anchor = new Map(net.parameters().map((p, i) => [p, tensor(Float32Array.from({ length: p.size }, (_, k) => 0.1 * Math.cos(i * 3 + k)), p.shape).keep()] as const));
        opt.ewc = { lambda: 2, fisher, anchor };
      }
      const x = randn([2, 4, 8, 8], 21).keep();
      const y = randn([2, 3, 8, 8], 22).keep();
      const norms: number[] = [];
      for (let i = 0; i < 3; i++) {
        net.zeroGrad();
        await scope(async () => backward(mseLoss(net.forward(x), y)));
        norms.push(await opt.step());
      }
      const weights = await Promise.all(net.parameters().map((p) => p.data()));
      const { m, v } = opt.state();
      const moments = await Promise.all([...m, ...v].map((t) => t.data()));
      return { norms, weights, moments, shapes: m.map((t) => t.shape), sizes: net.parameters().map((p) => p.shape) };
    } finally {
      if (prev === undefined) delete process.env.FFM_ADAMW_FLAT; else process.env.FFM_ADAMW_FLAT = prev;
    }
  };

  for (const ewc of [false, true]) {
    it(`one dispatch for all parameters gives the per-parameter update (clipping, weight decay${ewc ? ', EWC penalty' : ''}; 3 steps; weights and moments)`, async () => {
      await gpu();
      const [flat, each] = [await train(true, ewc), await train(false, ewc)];
      expect(flat.norms[0]).toBeGreaterThan(0.05); // the clip is active
      flat.norms.forEach((n, i) => expect(Math.abs(n - each.norms[i]!)).toBeLessThan(1e-5 * n));
      expect(flat.shapes).toEqual(flat.sizes);
      flat.weights.forEach((w, i) => expect(maxRelErr(w, each.weights[i]!)).toBeLessThan(1e-4));
      flat.moments.forEach((w, i) => expect(maxRelErr(w, each.moments[i]!)).toBeLessThan(1e-4));
      // and the weights moved
      const start = await Promise.all(withInitSeed(5, () => new TinyNet()).parameters().map((p) => p.data()));
      expect(Math.max(...flat.weights.map((w, i) => maxRelErr(w, start[i]!)))).toBeGreaterThan(1e-3);
    });
  }

  it('a moment segment written from a checkpoint is what the next step reads; segments of other shapes are refused', async () => {
    await gpu();
    const net = withInitSeed(6, () => new Linear(5, 3));
    const opt = new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0 });
    const { m } = opt.state();
    const values = Float32Array.from({ length: 15 }, (_, i) => i / 10);
    m[0]!.write(values);
    expect(Array.from(await m[0]!.data())).toEqual(Array.from(values));
    expect(Array.from(await m[1]!.data())).toEqual([0, 0, 0]);
    expect(() => m[1]!.write(new Float32Array(4))).toThrow(/4 values for a tensor of shape \[3\]/);
    opt.resetMoments();
    expect(Array.from(await m[0]!.data())).toEqual(new Array(15).fill(0));
    opt.dispose();
    net.dispose();
  });
});

describe('nn: layers', () => {
  it('Linear matches x W^T + b', async () => {
    await gpu();
    const lin = withInitSeed(3, () => new Linear(3, 2));
    const x = tensor([1, 2, 3, -1, 0, 1], [2, 3]);
    const y = await lin.forward(x).data();
    const w = await lin.weight.data();
    const b = await lin.bias!.data();
    for (let i = 0; i < 2; i++) for (let o = 0; o < 2; o++) {
      const want = b[o]! + [0, 1, 2].reduce((s, k) => s + [1, 2, 3, -1, 0, 1][i * 3 + k]! * w[o * 3 + k]!, 0);
      expect(Math.abs(y[i * 2 + o]! - want)).toBeLessThan(1e-5);
    }
  });
  it('the same init seed gives the same weights, another seed others', async () => {
    await gpu();
    const a = await withInitSeed(7, () => new Conv2d(3, 4)).weight.data();
    const b = await withInitSeed(7, () => new Conv2d(3, 4)).weight.data();
    const c = await withInitSeed(8, () => new Conv2d(3, 4)).weight.data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
  it('ResBlock with a time embedding keeps the spatial size and maps channels', async () => {
    await gpu();
    const rb = withInitSeed(1, () => new ResBlock(8, 16, 32, 4));
    const y = rb.forward(randn([2, 8, 6, 10], 1), timestepEmbedding([0.1, 0.9], 32));
    expect(y.shape).toEqual([2, 16, 6, 10]);
    expect(() => timestepEmbedding([0], 7)).toThrow(/even/);
  });
  it('U-Net forward at 32x32 and its size checks', async () => {
    await gpu();
    const net = withInitSeed(1, () => new UNet({ ...DEFAULT_UNET, inChannels: 3, outChannels: 1, baseChannels: 8, heads: 2 }));
    const y = net.forward(randn([1, 3, 32, 32], 2), [0.5]);
    expect(y.shape).toEqual([1, 1, 32, 32]);
    const v = await y.data();
    expect(v.every(Number.isFinite)).toBe(true);
    expect(() => net.forward(randn([1, 3, 30, 32], 2), [0.5])).toThrow('UNet: input must be [N, 3, H, W] with H and W multiples of 4, got [1,3,30,32]');
    expect(net.flopsPerPixel()).toBeGreaterThan(0);
    net.dispose();
  });
});

describe('nn: state dicts as safetensors', () => {
  it('round-trips through a file and restores the outputs', async () => {
    await gpu();
    const dir = mkdtempSync(join(tmpdir(), 'ffm-'));
    const a = withInitSeed(1, () => new TinyNet());
    const b = withInitSeed(2, () => new TinyNet());
    const x = randn([1, 4, 8, 8], 3);
    const ya = await a.forward(x).data();
    saveSafetensors(join(dir, 'm.safetensors'), await stateDict(a), { arch: 'tiny' });
    const loaded = loadSafetensors(join(dir, 'm.safetensors'));
    expect(loaded.metadata.arch).toBe('tiny');
    loadStateDict(b, loaded.tensors);
    expect(Array.from(await b.forward(x).data())).toEqual(Array.from(ya));
  });
  it('rejects another architecture, truncated files and missing files without touching the weights', async () => {
    await gpu();
    const dir = mkdtempSync(join(tmpdir(), 'ffm-'));
    const net = withInitSeed(1, () => new TinyNet());
    const before = await net.c1.weight.data();
    const other = new Map([['c1.weight', { shape: [8, 4, 3, 3], data: new Float32Array(288) }]]);
    expect(() => loadStateDict(net, other, 'other.safetensors')).toThrow(/other.safetensors: parameter 'c1.weight' has shape \[8,4,3,3\], the model expects \[16,4,3,3\]/);
    const bytes = encodeSafetensors(await stateDict(net));
    writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 100));
    expect(() => loadSafetensors(join(dir, 'cut.safetensors'))).toThrow(/cut.safetensors: tensor '.*' \[.*\] has byte range .* truncated or corrupt/);
    expect(() => loadSafetensors(join(dir, 'none.safetensors'))).toThrow(/none.safetensors: checkpoint file not found/);
    expect(() => decodeSafetensors(new Uint8Array([1, 2, 3]), 'tiny.bin')).toThrow(/tiny.bin: not a safetensors file/);
    expect(Array.from(await net.c1.weight.data())).toEqual(Array.from(before));
  });
  it('the file layout is what an independent reader (Python stdlib) parses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffm-'));
    const path = join(dir, 'p.safetensors');
    saveSafetensors(path, new Map([['a.weight', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }], ['b', { shape: [1], data: Float32Array.from([-2]) }]]), { k: 'v' });
    const bytes = readFileSync(path);
    // the header length is a u64 LE and the data section starts 8-byte aligned
    const hlen = Number(bytes.readBigUInt64LE(0));
    expect((8 + hlen) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + hlen).toString());
    expect(header['a.weight']).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(header.__metadata__).toEqual({ k: 'v' });
    expect(existsSync(path)).toBe(true);
    // an independent reader following the safetensors spec, in Python's standard library
    const py = [
      'import json, struct, sys, array',
      'b = open(sys.argv[1], "rb").read()',
      'n = struct.unpack("<Q", b[:8])[0]',
      'h = json.loads(b[8:8 + n])',
      'out = {}',
      'for k, v in h.items():',
      '    if k == "__metadata__": continue',
      '    s, e = v["data_offsets"]',
      '    a = array.array("f"); a.frombytes(b[8 + n + s: 8 + n + e])',
      '    out[k] = {"shape": v["shape"], "values": a.tolist()}',
      'print(json.dumps(out, sort_keys=True))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', py, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ 'a.weight': { shape: [2, 3], values: [1, 2, 3, 4, 5, 6.5] }, b: { shape: [1], values: [-2] } });
  });
});

describe('nn: fused attention against the materialised scores', () => {
  it('ops.attention equals matmul/softmax/matmul within float rounding, forward and every gradient; SelfAttention2d (fused) equals its own layers with materialised scores', async () => {
    await gpu();
    const [B, D, L] = [3, 16, 70];
    const q = randn([B, D, L], 21).keep();
    const k = randn([B, D, L], 22).keep();
    const v = randn([B, D, L], 23).keep();
    const w = randn([B, D, L], 24).keep();
    const q4s = [26, 27, 28, 29].map((s) => randn([2, 8, 72], s));
    for (const t of [q, k, v]) t.requiresGrad = true;
    const run = async (f: () => Tensor) => scope(async () => {
      for (const t of [q, k, v]) { t.grad?.dispose(); t.grad = null; }
      const o = f();
      backward(sum(mul(o, w)));
      return { o: await o.data(), dq: await q.grad!.data(), dk: await k.grad!.data(), dv: await v.grad!.data() };
    });
    const scale = 0.25;
    const fused = await run(() => attention(q, k, v, scale, 'fused'));
    const dense = await run(() => matmul(v, softmax(matmul(q, k, true, false), scale), false, true));
    for (const key of ['o', 'dq', 'dk', 'dv'] as const) expect(maxRelErr(fused[key], dense[key]), key).toBeLessThan(1e-5);
    // 'dense' at L % 4 == 0 (transposed scores, column softmax) against the row-major product
    const q4 = q4s.map((x) => x.keep());
    for (const x of q4) x.requiresGrad = true;
    const run4 = async (f: () => Tensor) => scope(async () => {
      for (const x of q4) { x.grad?.dispose(); x.grad = null; }
      const o = f();
      backward(sum(mul(o, q4[3]!)));
      return [await o.data(), ...(await Promise.all(q4.slice(0, 3).map((x) => x.grad!.data())))];
    });
    const cols = await run4(() => attention(q4[0]!, q4[1]!, q4[2]!, scale, 'dense'));
    const rows = await run4(() => matmul(q4[2]!, softmax(matmul(q4[0]!, q4[1]!, true, false), scale), false, true));
    cols.forEach((c, i) => expect(maxRelErr(c, rows[i]!), ['o', 'dq', 'dk', 'dv'][i]).toBeLessThan(1e-5));
    // the block (its 'auto' attention forced to the fused kernel) against its own layers with
    // materialised scores: a 16-channel map of 6x5 tokens, 4 heads of 4 channels
    process.env.FFM_ATTN_DENSE_BYTES = '0';
    const block = withInitSeed(5, () => new SelfAttention2d(16, 4, 4));
    const x = randn([2, 16, 6, 5], 25).keep();
    const y = await noGrad(() => block.forward(x)).data();
    const ref = await noGrad(() => {
      const qkv = block.qkv.forward(block.norm.forward(x));
      const part = (i: number) => reshape(slice(qkv, i * 16, 16), [8, 4, 30]);
      const o = matmul(part(2), softmax(matmul(part(0), part(1), true, false), 0.5), false, true);
      return add(x, block.proj.forward(reshape(o, [2, 16, 6, 5])));
    }).data();
    delete process.env.FFM_ATTN_DENSE_BYTES;
    expect(maxRelErr(y, ref)).toBeLessThan(1e-5);
    block.dispose();
    for (const t of [q, k, v, w, x]) t.dispose();
  }, 120_000);
});

describe('nn: attention by query blocks and the auto choice', () => {
  it("'blocks' equals the materialised scores within float rounding over several blocks and a ragged last one, with either value product; 'auto' without a gradient equals it too; a gradient through 'blocks' is refused", async () => {
    await gpu();
    const [B, D, L] = [2, 8, 90];
    const q = randn([B, D, L], 31).keep();
    const k = randn([B, D, L], 32).keep();
    const v = randn([B, D, L], 33).keep();
    const dense = await noGrad(() => attention(q, k, v, 0.4, 'dense')).data();
    // 2 x 24 x 90 x 4 bytes: blocks of 24 queries, the last of 18
    process.env.FFM_ATTN_DENSE_BYTES = String(2 * 24 * 90 * 4 + 100);
    try {
      for (const vt of ['1', '0']) {
        process.env.FFM_ATTN_BLOCKS_VT = vt;
        expect(maxRelErr(await noGrad(() => attention(q, k, v, 0.4, 'blocks')).data(), dense), `FFM_ATTN_BLOCKS_VT=${vt}`).toBeLessThan(1e-5);
      }
      delete process.env.FFM_ATTN_BLOCKS_VT;
      // L % 4 != 0 and the scores above the budget: auto takes the blocks (L % 4 == 0 would take the fused kernel)
      expect(maxRelErr(await noGrad(() => attention(q, k, v, 0.4)).data(), dense)).toBeLessThan(1e-5);
      q.requiresGrad = true;
      expect(() => attention(q, k, v, 0.4, 'blocks')).toThrow("attention: 'blocks' keeps no scores for a gradient");
    } finally {
      delete process.env.FFM_ATTN_DENSE_BYTES;
      delete process.env.FFM_ATTN_BLOCKS_VT;
      q.requiresGrad = false;
    }
    // 'auto' without a gradient at L % 4 == 0 runs the vec4-lane fused forward
    const q4 = [41, 42, 43].map((s) => randn([2, 16, 64], s).keep());
    const ref = await noGrad(() => attention(q4[0]!, q4[1]!, q4[2]!, 0.25, 'dense')).data();
    expect(maxRelErr(await noGrad(() => attention(q4[0]!, q4[1]!, q4[2]!, 0.25)).data(), ref)).toBeLessThan(1e-5);
    // a head wider than the fused kernel's registers: 'auto' goes dense instead of refusing
    const wide = [44, 45, 46].map((s) => randn([1, 72, 16], s).keep());
    const wideRef = await noGrad(() => attention(wide[0]!, wide[1]!, wide[2]!, 0.1, 'dense')).data();
    expect(maxRelErr(await noGrad(() => attention(wide[0]!, wide[1]!, wide[2]!, 0.1)).data(), wideRef)).toBeLessThan(1e-6);
    for (const t of [q, k, v, ...q4, ...wide]) t.dispose();
  }, 60_000);
});

describe('nn: attention within windows', () => {
  /**
   * The float64 reference of windowedAttention: each token attends over the side x side window
   * that owns it, windows from (min(i side, H - side), ...), and the window's output is its own.
   */
  function windowedRef(qs: Float32Array, ks: Float32Array, vs: Float32Array, [B, D, H, W]: number[], side: number, scale: number): Float64Array {
    const [wh, ww] = [Math.min(side, H), Math.min(side, W)];
    const [nwy, nwx] = [Math.ceil(H / wh), Math.ceil(W / ww)];
    const origin = (i: number, w: number, n: number) => Math.min(i * w, n - w);
    const out = new Float64Array(B * D * H * W);
    for (let iy = 0; iy < nwy; iy++) for (let ix = 0; ix < nwx; ix++) {
      const [oy, ox] = [origin(iy, wh, H), origin(ix, ww, W)];
      const tokens: number[] = [];
      for (let y = oy; y < oy + wh; y++) for (let x = ox; x < ox + ww; x++) tokens.push(y * W + x);
      const pick = (a: Float32Array) => {
        const w = new Float32Array(B * D * tokens.length);
        for (let bc = 0; bc < B * D; bc++) tokens.forEach((tk, p) => { w[bc * tokens.length + p] = a[bc * H * W + tk]!; });
        return w;
      };
      const o = attentionRef(pick(qs), pick(ks), pick(vs), B, D, tokens.length, scale).o;
      tokens.forEach((tk, p) => {
        const [y, x] = [Math.floor(tk / W), tk % W];
        // the window that owns the token writes it
        if (Math.min(Math.floor(y / wh), nwy - 1) !== iy || Math.min(Math.floor(x / ww), nwx - 1) !== ix) return;
        for (let bc = 0; bc < B * D; bc++) out[bc * H * W + tk] = o[bc * tokens.length + p]!;
      });
    }
    return out;
  }
  // windows that divide the map; last windows moved back (overlapping) in both directions; a
  // window of 25 tokens (not a multiple of 4: the per-query kernel); a map smaller than a window
  const cases: [number[], number][] = [[[2, 16, 32, 32], 16], [[1, 16, 40, 28], 16], [[3, 8, 20, 44], 8], [[1, 8, 13, 11], 5], [[1, 16, 12, 12], 16]];
  for (const [shape, side] of cases) {
    it(`[B, D, H, W] = [${shape.join(', ')}], windows of ${side}: against the float64 reference`, async () => {
      await gpu();
      const [B, D, H, W] = shape as [number, number, number, number];
      const [q, k, v] = [51, 52, 53].map((s) => randn([B, D, H * W], s));
      const got = await noGrad(() => windowedAttention(q!, k!, v!, 0.3, H, W, side)).data();
      const [qs, ks, vs] = await Promise.all([q!, k!, v!].map((t) => t.data()));
      expect(maxRelErr(got, windowedRef(qs!, ks!, vs!, shape, side, 0.3))).toBeLessThan(1e-4);
    });
  }
  it('a map of one window is plain attention; a gradient is refused, naming the op', async () => {
    await gpu();
    const [q, k, v] = [54, 55, 56].map((s) => randn([2, 8, 64], s));
    const plain = await noGrad(() => attention(q!, k!, v!, 0.5)).data();
    expect(await noGrad(() => windowedAttention(q!, k!, v!, 0.5, 8, 8, 8)).data()).toEqual(plain);
    expect(maxRelErr(await noGrad(() => windowedAttention(q!, k!, v!, 0.5, 8, 8, 4)).data(), plain)).toBeGreaterThan(1e-2);
    q!.requiresGrad = true;
    expect(() => windowedAttention(q!, k!, v!, 0.5, 8, 8, 4)).toThrow('windowedAttention: inference only (no gradient)');
  });
  it('SelfAttention2d: its window applies to forwards without gradient only', async () => {
    await gpu();
    const block = withInitSeed(7, () => new SelfAttention2d(16, 2, 4));
    const x = randn([1, 16, 12, 12], 57);
    const whole = await noGrad(() => block.forward(x)).data();
    block.window = 6;
    const windowed = await noGrad(() => block.forward(x)).data();
    expect(maxRelErr(windowed, whole)).toBeGreaterThan(1e-3);
    // with the tape on (training) the block attends over the whole map whatever its window
    x.requiresGrad = true;
    expect(maxRelErr(await scope(async () => block.forward(x).data()), whole)).toBeLessThan(1e-6);
  });
});

describe('nn: group norm statistics by windows (withNormWindow)', () => {
  it('FFM_NORM_WINDOW_SMOOTH=0: each pixel is normalised with its own window\'s statistics (windows of a third of the width, the last moved inside), against float64', async () => {
    await gpu();
    const [C, H, W, G] = [4, 10, 9, 2];
    const x = randn([1, C, H, W], 61);
    const xs = await x.data();
    process.env.FFM_NORM_WINDOW_SMOOTH = '0';
    let got: Float32Array;
    try {
      got = await noGrad(() => withNormWindow(1 / 3, () => groupNorm(x, G, null, null))).data();
    } finally {
      delete process.env.FFM_NORM_WINDOW_SMOOTH;
    }
    // windows of 3 px: rows 0-2, 3-5, 6-8 and 7-9 (the last moved inside; rows 9 belong to it), columns 0-2, 3-5, 6-8
    const want = new Float64Array(C * H * W);
    const owner = (i: number, n: number) => { const w = Math.min(Math.floor(i / 3), Math.ceil(n / 3) - 1); return Math.min(3 * w, n - 3); };
    for (let g = 0; g < G; g++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) {
      const [oy, ox] = [owner(y, H), owner(xx, W)];
      const vals: number[] = [];
      for (let c = g * (C / G); c < (g + 1) * (C / G); c++) for (let yy = oy; yy < oy + 3; yy++) for (let x2 = ox; x2 < ox + 3; x2++) vals.push(xs[(c * H + yy) * W + x2]!);
      const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
      const vr = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length;
      for (let c = g * (C / G); c < (g + 1) * (C / G); c++) want[(c * H + y) * W + xx] = (xs[(c * H + y) * W + xx]! - mean) / Math.sqrt(vr + 1e-5);
    }
    expect(maxRelErr(got, want)).toBeLessThan(1e-4);
    // outside withNormWindow, the whole map
    expect(maxRelErr(await noGrad(() => groupNorm(x, G, null, null)).data(), want)).toBeGreaterThan(1e-2);
  });
  it('the windows\' statistics interpolated bilinearly between their centres, with the affine, against float64', async () => {
    await gpu();
    const [C, H, W, G, side] = [4, 11, 14, 2, 4];
    const x = randn([1, C, H, W], 62);
    const gamma = randn([C], 63);
    const beta = randn([C], 64);
    const [xs, gs, bs] = await Promise.all([x.data(), gamma.data(), beta.data()]);
    const got = await noGrad(() => withNormWindow(side / W, () => groupNorm(x, G, gamma, beta))).data();
    // windows of 4: origins 0, 4, 7 down (H 11) and 0, 4, 8, 10 across (W 14); centres at origin + 1.5
    const want = windowNormRef(xs, [1, C, H, W], G, side, gs, bs);
    expect(maxRelErr(got, want)).toBeLessThan(1e-4);
  });
  it('window statistics of data far from zero (mean 1,000, unit spread), read once, against float64', async () => {
    await gpu();
    const [C, H, W, G, side] = [4, 18, 20, 2, 8];
    const x = randn([1, C, H, W], 65, 1, 1000);
    const xs = await x.data();
    const got = await noGrad(() => withNormWindow(side / W, () => groupNorm(x, G, null, null))).data();
    expect(maxRelErr(got, windowNormRef(xs, [1, C, H, W], G, side, null, null))).toBeLessThan(1e-3);
  });
});

describe('a U-Net forward without gradient frees each stage as it goes', () => {
  it('same output as with every intermediate held (FFM_FORWARD_STAGES=0), from less memory: the pool grows when the stages are held', async () => {
    const main = await gpu();
    const rt = await createNodeRuntime(); // a pool of its own: growth measured from empty
    useRuntime(rt);
    try {
      // 16 channels at 128x128: 1 MiB maps, which the pool hands out again inside a batch
      const net = withInitSeed(3, () => new UNet({ ...DEFAULT_UNET, baseChannels: 16, channelMults: [1, 2], attention: false }));
      const x = randn([1, net.config.inChannels, 128, 128], 5).keep();
      const run = async (stages: '0' | '1') => {
        process.env.FFM_FORWARD_STAGES = stages;
        const before = rt.stats().allocatedBytes;
        const y = tidy(() => noGrad(() => net.forward(x, [0.5]))); // every intermediate freed at the end either way
        const out = await y.data();
        y.dispose();
        delete process.env.FFM_FORWARD_STAGES;
        return { out, grew: rt.stats().allocatedBytes - before };
      };
      const staged = await run('1');
      const held = await run('0'); // needs more than the staged forward left in the pool
      expect(Array.from(staged.out)).toEqual(Array.from(held.out));
      // holding the stages needs buffers the staged forward never made (without staging: 1,280 bytes)
      expect(held.grew).toBeGreaterThan(0.1 * staged.grew);
      x.dispose();
      net.dispose();
    } finally {
      delete process.env.FFM_FORWARD_STAGES;
      useRuntime(main);
      rt.destroy();
    }
  });
});
