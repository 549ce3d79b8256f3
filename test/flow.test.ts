import { describe, expect, it } from 'vitest';
import { backward } from '../src/autograd/backward.js';
import { tensor } from '../src/autograd/create.js';
import { mseLoss } from '../src/autograd/ops.js';
import { noGrad, scope, type Tensor } from '../src/autograd/tensor.js';
import { fuseClassical } from '../src/fusion/classical/index.js';
import { applyCrop } from '../src/fusion/augment.js';
import { flowMatchingLoss } from '../src/fusion/flow/loss.js';
import { PYRAMID_LEVELS, VelocityNet } from '../src/fusion/flow/model.js';
import { checkCoupling, flowSource, interpolate } from '../src/fusion/flow/path.js';
import { evaluations, integrate } from '../src/fusion/flow/sampler.js';
import { readImage } from '../src/io/image.js';
import { withInitSeed } from '../src/nn/module.js';
import { AdamW } from '../src/nn/optim.js';
import { SeededRng } from '../src/util/rng.js';
import { gpu } from './helpers.js';
import { existsSync, statSync } from 'node:fs';
import { fuseImages } from '../src/fusion/flow/fuse.js';
import type { Image } from '../src/fusion/image.js';
import { loadFlowModel } from '../src/io/flow-checkpoint.js';

describe('flow matching from the sources', () => {
  it('overfits one small pair: the one-step output lands within a small MSE of its label', async () => {
    await gpu();
    const crop = { x: 96, y: 96, size: 32, flipH: false, flipV: false };
    const a = applyCrop(await readImage('samples/mif-MRI-CT/13_a.png'), crop);
    const b = applyCrop(await readImage('samples/mif-MRI-CT/13_b.png'), crop);
    const label = fuseClassical('gff', a, b);
    const T = (img: typeof a) => tensor(img.planes[0]!, [1, 1, 32, 32]).keep();
    const [xA, xB, x1] = [T(a), T(b), T(label)];
    const net = withInitSeed(3, () => new VelocityNet({ baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: true, heads: 2, groups: 4, timeDim: 16 }));
    const opt = new AdamW(net.parameters(), { lr: 3e-3, weightDecay: 0 });
    const rng = new SeededRng(7);
    let loss = 0;
    for (let step = 0; step < 300; step++) {
      loss = await scope(async () => {
        net.zeroGrad();
        const l = flowMatchingLoss(net, xA, xB, x1, [rng.next()], 'sum');
        backward(l);
        await opt.step();
        return l.item();
      });
    }
    const x0 = noGrad(() => flowSource('sum', xA, xB));
    const fused = integrate(net, x0, xA, xB, 1);
    const err = await noGrad(() => mseLoss(fused, x1)).item();
    const start = await noGrad(() => mseLoss(x0, x1)).item();
    console.log(`overfit: last loss ${loss.toExponential(2)}, one-step MSE to label ${err.toExponential(2)} (flow source ${start.toExponential(2)})`);
    expect(err).toBeLessThan(2e-3);
    expect(err).toBeLessThan(start / 50);
  }, 600_000);
  it('solvers count their network evaluations; bad arguments are named', () => {
    expect(evaluations('euler', 1)).toBe(1);
    expect(evaluations('midpoint', 4)).toBe(8);
    expect(evaluations('rk4', 2)).toBe(8);
    expect(() => checkCoupling('uniform')).toThrow("unknown coupling 'uniform'; expected sum, average, gaussian");
  });
});

describe('flow trainer', () => {
  const triple = (w: number, h: number): import('../src/fusion/flow/trainer.js').Triple => {
    const a = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.4 * Math.sin(i / 5));
    const b = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.4 * Math.cos(i / 7));
    return { name: 'synthetic', w, h, a, b, label: a.map((v, i) => Math.max(v, b[i]!)) };
  };
  const cfg = {
    model: { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 },
    coupling: 'sum' as const, steps: 6, batch: 2, crop: 16, lr: 1e-3, warmup: 2, weightDecay: 1e-4, clipNorm: 1, emaDecay: 0.9, seed: 4,
  };
  /** A run stopped after `stop` steps and resumed from its state ends as one run straight to `end` does. */
  const expectResumedRunExact = async (Trainer: typeof import('../src/fusion/flow/trainer.js').FlowTrainer, config: import('../src/fusion/flow/trainer.js').TrainConfig, data: import('../src/fusion/flow/trainer.js').Triple[], stop: number, end: number) => {
    const straight = new Trainer(config, data);
    await straight.run(end, () => {});
    const first = new Trainer(config, data);
    await first.run(stop, () => {});
    const saved = await first.state();
    first.dispose();
    const resumed = new Trainer(config, data);
    resumed.restore(saved.tensors, saved.meta, 'state');
    await resumed.run(end, () => {});
    const a = await straight.state();
    const b = await resumed.state();
    expect(a.meta.losses.length).toBe(end);
    expect(a.meta.losses.every(Number.isFinite)).toBe(true);
    expect(b.meta.losses).toEqual(a.meta.losses);
    for (const [k, t] of a.tensors) expect(Array.from(b.tensors.get(k)!.data), k).toEqual(Array.from(t.data));
    straight.dispose();
    resumed.dispose();
  };
  it('a run resumed from its state continues exactly (weights, EMA, moments, data order)', async () => {
    await gpu();
    const { FlowTrainer } = await import('../src/fusion/flow/trainer.js');
    await expectResumedRunExact(FlowTrainer, cfg, [triple(24, 20), triple(30, 18)], 3, 6);
  });
  it('EMA warm-up: the average restarts at a phase start (the first update keeps a tenth of it) and its decay grows to the configured one', async () => {
    await gpu();
    const { FlowTrainer } = await import('../src/fusion/flow/trainer.js');
    const { emaWarmupDecay } = await import('../src/fusion/flow/ema.js');
    expect(emaWarmupDecay(0.995, 0)).toBeCloseTo(0.1, 12);
    expect(emaWarmupDecay(0.995, 150)).toBeCloseTo(151 / 160, 12);
    expect(emaWarmupDecay(0.995, 5000)).toBe(0.995);
    const t = new FlowTrainer({ ...cfg, emaDecay: 0.99, emaWarmup: true }, [triple(24, 20)]);
    await t.run(3, () => {});
    const before = await Promise.all(t.ema.shadow.map((s) => s.data()));
    t.phaseStart = 3; // a new task begins
    await t.run(4, () => {});
    const params = await Promise.all(t.net.parameters().map((p) => p.data()));
    const after = await Promise.all(t.ema.shadow.map((s) => s.data()));
    let worst = 0;
    after.forEach((a, i) => a.forEach((v, k) => { worst = Math.max(worst, Math.abs(v - (0.1 * before[i]![k]! + 0.9 * params[i]![k]!))); }));
    expect(worst).toBeLessThan(1e-6);
    t.dispose();
  });
  it('swapSources exchanges A and B in about half the crops of the named task only; other runs keep their batches', async () => {
    await gpu();
    const { FlowTrainer } = await import('../src/fusion/flow/trainer.js');
    // A all 0.2, B all 0.8: a crop whose A reads 0.8 was swapped
    const w = 24, h = 20;
    const data = [{ name: 'flat', w, h, a: new Float32Array(w * h).fill(0.2), b: new Float32Array(w * h).fill(0.8), label: new Float32Array(w * h).fill(0.8) }];
    const big = { ...cfg, batch: 64 };
    const [lo, hi] = [Math.fround(0.2), Math.fround(0.8)];
    const make = (swapSources: string[] | undefined, task: string) => {
      const t = new FlowTrainer(swapSources ? { ...big, swapSources } : big, data);
      t.task = task;
      return t;
    };
    const plain = make(undefined, 'mff');
    const elsewhere = make(['mff'], 'ivf');
    const swapping = make(['mff'], 'mff');
    const p = plain.drawBatch();
    const e = elsewhere.drawBatch();
    expect(Array.from(e.a)).toEqual(Array.from(p.a));
    expect(e.t).toEqual(p.t);
    expect(p.a.every((v) => v === lo)).toBe(true);
    const s = swapping.drawBatch();
    const n = 16 * 16;
    let swapped = 0;
    for (let k = 0; k < 64; k++) {
      const a = s.a.subarray(k * n, (k + 1) * n);
      const b = s.b.subarray(k * n, (k + 1) * n);
      if (a.every((v) => v === hi) && b.every((v) => v === lo)) swapped++;
      else expect(a.every((v) => v === lo) && b.every((v) => v === hi), `crop ${k}: A and B whole, either way`).toBe(true);
    }
    expect(swapped).toBeGreaterThan(16);
    expect(swapped).toBeLessThan(48);
    for (const t of [plain, swapping, elsewhere]) t.dispose();
  });
  it('taskWeights draws each task in proportion to its weight (unnamed tasks weigh 1); without them the seeded batches stay as they were', async () => {
    await gpu();
    const { FlowTrainer } = await import('../src/fusion/flow/trainer.js');
    const w = 20, h = 20;
    // each task's pair is flat at its own level, so a crop's task reads from its pixels too
    const flat = (group: string, v: number) => ({ name: group, w, h, a: new Float32Array(w * h).fill(v), b: new Float32Array(w * h).fill(v), label: new Float32Array(w * h).fill(v), group });
    const data = [flat('ivf', 0.1), flat('mef', 0.3), flat('mff', 0.7)];
    const big = { ...cfg, batch: 600 };
    const count = (t: InstanceType<typeof FlowTrainer>) => {
      const { task, a } = t.drawBatch();
      const n = 16 * 16;
      task.forEach((k, i) => expect(a[i * n]).toBe(Math.fround(data.find((d) => d.group === k)!.a[0]!)));
      return ['ivf', 'mef', 'mff'].map((k) => task.filter((x) => x === k).length);
    };
    const uniform = new FlowTrainer(big, data);
    const weighted = new FlowTrainer({ ...big, taskWeights: { mff: 4 } }, data);
    const [u, wt] = [count(uniform), count(weighted)];
    // expected 200 / 200 / 200 and 100 / 100 / 400 (binomial sd about 12 and 15)
    for (const c of u) expect(Math.abs(c - 200)).toBeLessThan(50);
    expect(Math.abs(wt[0]! - 100)).toBeLessThan(40);
    expect(Math.abs(wt[1]! - 100)).toBeLessThan(40);
    expect(Math.abs(wt[2]! - 400)).toBeLessThan(50);
    // the uniform path draws exactly as before weights existed: one rng.int per group choice
    const { SeededRng, pcgHash } = await import('../src/util/rng.js');
    const rng = new SeededRng(pcgHash(big.seed ^ 0x5eed));
    const first = rng.int(3);
    expect(new FlowTrainer(big, data).drawBatch().task[0]).toBe(['ivf', 'mef', 'mff'][first]);
    for (const t of [uniform, weighted]) t.dispose();
  });
  it('mixedCrop: every N-th step draws its own crop side and batch, a run with it resumes exactly, and sizes are checked', async () => {
    await gpu();
    const { FlowTrainer } = await import('../src/fusion/flow/trainer.js');
    const mixed = { ...cfg, steps: 4, mixedCrop: { crop: 24, batch: 1, every: 2 } };
    const data = [triple(30, 24), triple(28, 26)];
    const probe = new FlowTrainer(mixed, data);
    expect(probe.stepShape()).toEqual({ crop: 16, batch: 2, mixed: false });
    probe.step = 1;
    expect(probe.stepShape()).toEqual({ crop: 24, batch: 1, mixed: true });
    expect(probe.drawBatch().a.length).toBe(24 * 24);
    probe.step = 2;
    expect(probe.drawBatch().x1.length).toBe(2 * 16 * 16);
    probe.dispose();
    // steps 1 and 3 are mixed: a run stopped after step 3 and resumed matches one run straight
    await expectResumedRunExact(FlowTrainer, mixed, data, 3, 4);
    expect(() => new FlowTrainer({ ...cfg, mixedCrop: { crop: 32, batch: 1, every: 2 } }, [triple(30, 24)])).toThrow("training: pair 'synthetic' is 30x24, smaller than the 32x32 crop");
    expect(() => new FlowTrainer({ ...cfg, mixedCrop: { crop: 23, batch: 1, every: 2 } }, [triple(30, 24)])).toThrow('the mixed crop (23 px) must be a multiple of 2');
  });
  it('refuses pairs smaller than the crop, naming the pair', async () => {
    await gpu();
    const { FlowTrainer } = await import('../src/fusion/flow/trainer.js');
    expect(() => new FlowTrainer({ ...cfg, crop: 32 }, [triple(24, 20)])).toThrow("training: pair 'synthetic' is 24x20, smaller than the 32x32 crop");
  });
});

describe('fusing with a model', () => {
  const small = { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: true, heads: 2, groups: 4, timeDim: 8 };
  it('tiles with overlap approximately agree with the untiled result (mean abs diff < 0.05), for odd sizes too', async () => {
    await gpu();
    const { fuseLuminance } = await import('../src/fusion/flow/fuse.js');
    const net = withInitSeed(2, () => new VelocityNet(small));
    const w = 45;
    const h = 37;
    const a = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.sin(i / 9));
    const b = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.cos(i / 13));
    const whole = await fuseLuminance(net, a, b, w, h, { maxTilePixels: 1e9, attentionWindow: null });
    // 40 x 40 net inputs: 24 px tiles inside 8 px of context each side
    const tiled = await fuseLuminance(net, a, b, w, h, { maxTilePixels: 40 * 40, overlap: 8 });
    expect(whole.length).toBe(w * h);
    let diff = 0;
    for (let i = 0; i < w * h; i++) diff += Math.abs(whole[i]! - tiled[i]!);
    // convolutions see different borders near tile edges, so equality is approximate
    expect(diff / (w * h)).toBeLessThan(0.05);
    expect(tiled.every(Number.isFinite)).toBe(true);
    net.dispose();
  });
  it('tiles evaluated several per net evaluation (FFM_TILE_BATCH) fuse as one at a time, within float rounding, a partial last batch too, and where noise is drawn (gaussian coupling, DDPM sampler)', async () => {
    await gpu();
    const { fuseLuminance, tilePlan } = await import('../src/fusion/flow/fuse.js');
    const net = withInitSeed(2, () => new VelocityNet(small));
    const [w, h] = [45, 37];
    const a = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.sin(i / 9));
    const b = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.cos(i / 13));
    const opts = { maxTilePixels: 40 * 40, overlap: 8, task: undefined };
    expect(tilePlan(net, w, h, opts).tiles).toBe(6); // batches of 4: one full, one of 2
    const fuseWith = async (batch: string, o: Parameters<typeof fuseLuminance>[5]) => {
      process.env.FFM_TILE_BATCH = batch;
      try {
        return await fuseLuminance(net, a, b, w, h, o);
      } finally {
        delete process.env.FFM_TILE_BATCH;
      }
    };
    const one = await fuseWith('1', opts);
    for (const batch of ['4', '6']) {
      const batched = await fuseWith(batch, opts);
      let worst = 0;
      for (let i = 0; i < w * h; i++) worst = Math.max(worst, Math.abs(batched[i]! - one[i]!));
      expect(worst).toBeLessThan(1e-5);
    }
    // where noise is drawn (the gaussian coupling, the DDPM sampler) every tile of a batch starts from a lone tile's draw
    for (const noisy of [{ coupling: 'gaussian' as const, seed: 3 }, { objective: 'ddpm' as const, steps: 2, seed: 1 }]) {
      const alone = await fuseWith('1', { ...opts, ...noisy });
      const batched = await fuseWith('4', { ...opts, ...noisy });
      let worst = 0;
      for (let i = 0; i < w * h; i++) worst = Math.max(worst, Math.abs(batched[i]! - alone[i]!));
      expect(worst, JSON.stringify(noisy)).toBeLessThan(1e-5);
    }
    net.dispose();
  });
  it('attentionWindow: a net input whose lowest level fits one window fuses as without it; a larger one differs, finite; the block keeps its own setting afterwards; one piece and a flow model\'s tiles use the default window, the DDPM baseline\'s tiles none; auto: one piece for infrared-visible, medical fusion and multi-focus (each with its norm window), the tiles for multi-exposure', async () => {
    await gpu();
    const { fuseLuminance } = await import('../src/fusion/flow/fuse.js');
    const net = withInitSeed(2, () => new VelocityNet(small));
    // 45 x 37 with 8 px of context each side: a net input of 64 x 56, lowest level 32 x 28 (two levels)
    const [w, h] = [45, 37];
    const a = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.sin(i / 9));
    const b = Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.cos(i / 13));
    const whole = await fuseLuminance(net, a, b, w, h, { maxTilePixels: 1e9, attentionWindow: null });
    expect(await fuseLuminance(net, a, b, w, h, { maxTilePixels: 1e9, attentionWindow: 32 })).toEqual(whole);
    const windowed = await fuseLuminance(net, a, b, w, h, { maxTilePixels: 1e9, attentionWindow: 8 });
    expect(windowed.every(Number.isFinite)).toBe(true);
    expect(windowed.some((v, i) => Math.abs(v - whole[i]!) > 1e-4)).toBe(true);
    expect(net.unet.midAttn!.window).toBe(null);
    // fusion attends within ATTENTION_WINDOW by default, in one piece ('whole') and in the tiles
    const { ATTENTION_WINDOW } = await import('../src/fusion/flow/fuse.js');
    const onePiece = await fuseLuminance(net, a, b, w, h, { tiles: 'whole' });
    expect(onePiece).toEqual(await fuseLuminance(net, a, b, w, h, { tiles: 'whole', attentionWindow: ATTENTION_WINDOW }));
    expect(onePiece).not.toEqual(await fuseLuminance(net, a, b, w, h, { tiles: 'whole', attentionWindow: null }));
    const tiled = await fuseLuminance(net, a, b, w, h, { maxTilePixels: 1e9 });
    expect(tiled).toEqual(await fuseLuminance(net, a, b, w, h, { maxTilePixels: 1e9, attentionWindow: ATTENTION_WINDOW }));
    expect(tiled).not.toEqual(whole);
    // the DDPM baseline's tiles attend over the whole tile (the windows were measured on flow models)
    const ddpm = { objective: 'ddpm' as const, steps: 2, seed: 1, maxTilePixels: 1e9 };
    const ddpmTiled = await fuseLuminance(net, a, b, w, h, ddpm);
    expect(ddpmTiled).toEqual(await fuseLuminance(net, a, b, w, h, { ...ddpm, attentionWindow: null }));
    expect(ddpmTiled).not.toEqual(await fuseLuminance(net, a, b, w, h, { ...ddpm, attentionWindow: ATTENTION_WINDOW }));
    // the default ('auto'): one piece for infrared-visible, medical fusion and multi-focus, the tiles for multi-exposure
    expect(await fuseLuminance(net, a, b, w, h, { task: 'ivf' })).toEqual(onePiece);
    expect(await fuseLuminance(net, a, b, w, h, { task: 'mef' })).toEqual(await fuseLuminance(net, a, b, w, h, { tiles: 'portable', task: 'mef' }));
    // group norm statistics by windows: one piece's default (WHOLE_NORM_WINDOW: 64 px, the whole 64 px input here) and a smaller one
    const { WHOLE_NORM_WINDOW } = await import('../src/fusion/flow/fuse.js');
    expect(onePiece).toEqual(await fuseLuminance(net, a, b, w, h, { tiles: 'whole', normWindow: WHOLE_NORM_WINDOW }));
    const normWindowed = await fuseLuminance(net, a, b, w, h, { tiles: 'whole', normWindow: 16 });
    expect(normWindowed.every(Number.isFinite)).toBe(true);
    expect(normWindowed.some((v, i) => Math.abs(v - onePiece[i]!) > 1e-4)).toBe(true);
    // in one piece infrared-visible takes norm windows of WHOLE_NORM_WINDOW, medical fusion whole-map
    // statistics, multi-focus windows of 176 px (TASK_ONE_PIECE), by default and when one piece is
    // asked for; an input of 116 x 106 px is two 64 px windows across
    const [W2, H2] = [100, 90];
    const A = Float32Array.from({ length: W2 * H2 }, (_, i) => 0.5 + 0.3 * Math.sin(i / 7));
    const B = Float32Array.from({ length: W2 * H2 }, (_, i) => 0.5 + 0.3 * Math.cos(i / 11));
    const ivfPiece = await fuseLuminance(net, A, B, W2, H2, { task: 'ivf' });
    expect(ivfPiece).toEqual(await fuseLuminance(net, A, B, W2, H2, { tiles: 'whole', normWindow: WHOLE_NORM_WINDOW }));
    const mifPiece = await fuseLuminance(net, A, B, W2, H2, { task: 'mif' });
    expect(mifPiece).toEqual(await fuseLuminance(net, A, B, W2, H2, { tiles: 'whole', normWindow: null }));
    expect(await fuseLuminance(net, A, B, W2, H2, { task: 'mif', tiles: 'whole' })).toEqual(mifPiece);
    expect(mifPiece.some((v, i) => Math.abs(v - ivfPiece[i]!) > 1e-4)).toBe(true);
    // multi-focus: windows of 176 px, the default tile's extent (one window across this input: the whole map)
    expect(await fuseLuminance(net, A, B, W2, H2, { task: 'mff' })).toEqual(await fuseLuminance(net, A, B, W2, H2, { tiles: 'whole', normWindow: 176 }));
    expect(await fuseLuminance(net, A, B, W2, H2, { task: 'mff' })).toEqual(mifPiece);
    await expect(fuseLuminance(net, a, b, w, h, { normWindow: 2.5 })).rejects.toThrow('normWindow must be a positive whole number of pixels or null, got 2.5');
    await expect(fuseLuminance(net, a, b, w, h, { attentionWindow: 0 })).rejects.toThrow('attentionWindow must be a positive whole number of tokens or null, got 0');
    net.dispose();
  });
  it('model files are refused when missing, corrupt, of another architecture or another task', async () => {
    await gpu();
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { saveFlowModel } = await import('../src/io/flow-checkpoint.js');
    const { stateDict } = await import('../src/nn/state.js');
    const dir = mkdtempSync(join(tmpdir(), 'ffm-model-'));
    const net = withInitSeed(1, () => new VelocityNet(small));
    const path = join(dir, 'm.safetensors');
    saveFlowModel(path, await stateDict(net), { tasks: ['ivf'], config: small, coupling: 'sum', provenance: { test: 1 } });
    const ok = loadFlowModel(path, 'ivf');
    expect(ok.meta.coupling).toBe('sum');
    expect(() => loadFlowModel(path, 'mef')).toThrow(/trained for ivf, not 'mef'/);
    expect(() => loadFlowModel(join(dir, 'none.safetensors'))).toThrow(/checkpoint file not found/);
    writeFileSync(join(dir, 'junk.safetensors'), 'garbage bytes here');
    expect(() => loadFlowModel(join(dir, 'junk.safetensors'))).toThrow(/junk.safetensors: (header length|the safetensors header)/);
    const wider = { ...small, baseChannels: 16 };
    saveFlowModel(join(dir, 'w.safetensors'), await stateDict(net), { tasks: ['ivf'], config: wider, coupling: 'sum', provenance: {} });
    expect(() => loadFlowModel(join(dir, 'w.safetensors'))).toThrow(/has shape .* the model expects .*different architecture/);
    // --init: which tasks a choice term trained is not part of the net, so such a model can be
    // fine-tuned with the term; another head is refused
    const { initModelFor } = await import('../src/cli/train.js');
    const { DEFAULT_TRAIN } = await import('../src/fusion/flow/trainer.js');
    const run = { ...DEFAULT_TRAIN, coupling: 'sum' as const };
    initModelFor(path, { ...run, model: { ...small, choiceTrained: ['ivf'] } }).net.dispose();
    expect(() => initModelFor(path, { ...run, model: { ...small, head: small.head === 'blend' ? 'velocity' : 'blend' } })).toThrow(/--init .*m.safetensors: the model was trained as net/);
    ok.net.dispose();
  });
  it('a failed checkpoint write leaves the last good file in place', async () => {
    const { mkdtempSync, writeFileSync, readFileSync, mkdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { writeFileAtomic } = await import('../src/io/checkpoint.js');
    const dir = mkdtempSync(join(tmpdir(), 'ffm-atomic-'));
    const path = join(dir, 'c.bin');
    writeFileSync(path, 'good');
    // the temp file's name is taken by a directory: the write fails before the rename
    mkdirSync(join(dir, `.c.bin.${process.pid}.tmp`));
    expect(() => writeFileAtomic(path, new Uint8Array([1, 2, 3]))).toThrow();
    expect(readFileSync(path, 'utf8')).toBe('good');
  });
});

describe('the bundled default model', () => {
  const path = 'checkpoints/default.safetensors';
  it.skipIf(!existsSync(path))('is under 8 MB, serves all four tasks, asks which one to fuse for, and fuses a sample crop into something new and finite (skipped: no checkpoints/default.safetensors)', async () => {
    await gpu();
    expect(statSync(path).size).toBeLessThan(8 * 1024 * 1024);
    const { net, meta } = loadFlowModel(path);
    try {
      expect([...meta.tasks].sort()).toEqual(['ivf', 'mef', 'mff', 'mif']);
      const crop = { x: 100, y: 60, size: 64, flipH: false, flipV: false };
      const a = applyCrop(await readImage('samples/ivf-VIFB/carWhite_a.jpg'), crop);
      const b = applyCrop(await readImage('samples/ivf-VIFB/carWhite_b.jpg'), crop);
      // task-conditioned: without a task it must refuse, naming the tasks, rather than guess
      await expect(fuseImages(net, a, b, { steps: 1, coupling: meta.coupling })).rejects.toThrow(/task-conditioned on ivf, mif, mef, mff/);
      const f = await fuseImages(net, a, b, { steps: 1, coupling: meta.coupling, task: 'ivf' });
      const y = f.planes[0]!;
      expect(y.every(Number.isFinite)).toBe(true);
      const diff = (p: Float32Array) => p.reduce((s, v, i) => s + Math.abs(v - y[i]!), 0) / p.length;
      expect(diff(a.planes[0]!)).toBeGreaterThan(0.005);
      expect(diff(b.planes[0]!)).toBeGreaterThan(0.005);
    } finally {
      net.dispose();
    }
  }, 120_000);

  // Medical pairs are mostly black background, and SSIM-type metrics collapse on any offset
  // there: a four-task blend-head checkpoint (bench/results/default-model-blend800/) put 4-23
  // grey levels into it, depending on how much of the view was background, and scored -1 to -10.
  it.skipIf(!existsSync(path))('keeps black black: where both MRI-CT sources are 0, the one-step output is under 1 grey level, in an all-background and in a mixed 64 px view (skipped: no checkpoints/default.safetensors)', async () => {
    await gpu();
    const { net, meta } = loadFlowModel(path, 'mif');
    try {
      for (const x of [0, 96]) {
        const crop = { x, y: 0, size: 64, flipH: false, flipV: false };
        const a = applyCrop(await readImage('samples/mif-MRI-CT/13_a.png'), crop);
        const b = applyCrop(await readImage('samples/mif-MRI-CT/13_b.png'), crop);
        const f = await fuseImages(net, a, b, { steps: 1, coupling: meta.coupling, task: 'mif' });
        const [ya, yb, yf] = [a.planes[0]!, b.planes[0]!, f.planes[0]!];
        let sum = 0;
        let n = 0;
        for (let i = 0; i < yf.length; i++) if (ya[i] === 0 && yb[i] === 0) { sum += yf[i]!; n++; }
        expect(n).toBeGreaterThan(500);
        expect((255 * sum) / n).toBeLessThan(1);
      }
    } finally {
      net.dispose();
    }
  }, 120_000);
});

describe('fusion tiles', () => {
  it('the default net: a 640x480 pair in 20 tiles by default (the attention window it was trained near) whose net input (tile + 2 x 8 px margin) is a multiple of 16, in 48 tiles of 128 px for multi-exposure, in one piece with tiles: whole and for infrared-visible, medical fusion and multi-focus where it fits one; 2048x2048 tiled either way', async () => {
    await gpu();
    const { tilePlan } = await import('../src/fusion/flow/fuse.js');
    const net = withInitSeed(1, () => new VelocityNet());
    // 176 px of net input: 176 / 88 / 44 px levels, each row whole vec4s (the Winograd row transforms)
    expect(tilePlan(net, 640, 480)).toEqual({ side: 160, tiles: 20 });
    expect(tilePlan(net, 640, 480, { tiles: 'whole' })).toEqual({ side: 640, tiles: 1 });
    // multi-exposure's portable tiles are 128 px of net input (TASK_TILE_SIDE): 112 px inside the margin
    expect(tilePlan(net, 640, 480, { task: 'mef' })).toEqual({ side: 112, tiles: 48 });
    expect(tilePlan(net, 640, 480, { task: 'mef', tiles: 'whole' })).toEqual({ side: 640, tiles: 1 });
    // 'auto' (the default): one piece for infrared-visible, medical fusion and multi-focus where the
    // image fits one (TASK_ONE_PIECE), the portable tiles where it does not, for multi-exposure, for
    // the DDPM baseline, when asked for, and under FFM_TASK_ONE_PIECE=0
    expect(tilePlan(net, 640, 480, { task: 'ivf' })).toEqual({ side: 640, tiles: 1 });
    expect(tilePlan(net, 640, 480, { task: 'mff' })).toEqual({ side: 640, tiles: 1 });
    expect(tilePlan(net, 520, 520, { task: 'mef' })).toEqual(tilePlan(net, 520, 520, { tiles: 'portable', task: 'mef' }));
    expect(tilePlan(net, 520, 520, { task: 'mef' }).tiles).toBeGreaterThan(1);
    // a 256 px medical pair: one piece instead of four tiles
    expect(tilePlan(net, 256, 256, { task: 'mif' })).toEqual({ side: 256, tiles: 1 });
    expect(tilePlan(net, 256, 256, { task: 'mif', tiles: 'portable' })).toEqual({ side: 160, tiles: 4 });
    expect(tilePlan(net, 640, 480, { task: 'ivf', tiles: 'portable' })).toEqual({ side: 160, tiles: 20 });
    expect(tilePlan(net, 640, 480, { task: 'ivf', objective: 'ddpm' })).toEqual({ side: 160, tiles: 20 });
    expect(tilePlan(net, 2048, 2048, { task: 'ivf' })).toEqual(tilePlan(net, 2048, 2048, { tiles: 'portable' }));
    process.env.FFM_TASK_ONE_PIECE = '0';
    try {
      expect(tilePlan(net, 640, 480, { task: 'ivf' })).toEqual({ side: 160, tiles: 20 });
    } finally {
      delete process.env.FFM_TASK_ONE_PIECE;
    }
    process.env.FFM_TASK_TILES = '0';
    try {
      expect(tilePlan(net, 640, 480, { task: 'mef' })).toEqual({ side: 160, tiles: 20 });
    } finally {
      delete process.env.FFM_TASK_TILES;
    }
    // the largest activation (48 channels at full size) must fit one 128 MiB binding
    expect(net.maxSideByMemory(128 * 2 ** 20)).toBe(836);
    expect(tilePlan(net, 2048, 2048, { tiles: 'whole' }).tiles).toBeGreaterThan(1);
    net.dispose();
  });
});

describe('fused images have no border line', () => {
  it('the bundled model with reflected context: the outermost rows and columns step from the next no more than the average fusion does, +5 grey levels (the measure fails the same output with a 10-level line drawn along its borders; without context earlier models drew lines of 7 and 26 levels)', async () => {
    await gpu();
    const { net, meta } = loadFlowModel('checkpoints/default.safetensors', 'ivf');
    const crop = { x: 0, y: 0, size: 128, flipH: false, flipV: false };
    const a = applyCrop(await readImage('samples/ivf-VIFB/carWhite_a.jpg'), crop);
    const b = applyCrop(await readImage('samples/ivf-VIFB/carWhite_b.jpg'), crop);
    /** per border (top, bottom, left, right): the step in mean luminance (0..255) between the outermost line and the one inside it */
    const steps = (f: Image) => {
      const W = f.width;
      const H = f.height;
      const y = f.planes.length === 3 ? f.planes[0]!.map((r, i) => 0.299 * r + 0.587 * f.planes[1]![i]! + 0.114 * f.planes[2]![i]!) : f.planes[0]!;
      const row = (k: number) => y.subarray(k * W, (k + 1) * W).reduce((s, v) => s + v, 0) / W;
      const col = (k: number) => { let s = 0; for (let r = 0; r < H; r++) s += y[r * W + k]!; return s / H; };
      return [row(0) - row(1), row(H - 1) - row(H - 2), col(0) - col(1), col(W - 1) - col(W - 2)].map((d) => 255 * Math.abs(d));
    };
    const content = steps(fuseClassical('average', a, b));
    const excessOf = (f: Image) => Math.max(...steps(f).map((v, i) => v - content[i]!));
    const fused = (margin: number) => fuseImages(net, a, b, { steps: 1, coupling: meta.coupling, margin, task: 'ivf' });
    const withContextImage = await fused(8);
    const withContext = excessOf(withContextImage);
    const without = excessOf(await fused(0));
    console.log(`border step beyond the sources' own: ${withContext.toFixed(2)} grey levels with 8 px of reflected context, ${without.toFixed(2)} without`);
    // the rest is content: the model's contrast differs from the average's
    expect(withContext).toBeLessThan(5);
    // the measure sees a line: the same output with a 10-level line along its borders fails the bound
    const lined = { ...withContextImage, planes: withContextImage.planes.map((p) => p.map((v, i) => {
      const x = i % withContextImage.width;
      const y = Math.floor(i / withContextImage.width);
      return x === 0 || y === 0 || x === withContextImage.width - 1 || y === withContextImage.height - 1 ? Math.min(1, v + 10 / 255) : v;
    })) };
    expect(excessOf(lined)).toBeGreaterThan(5);
    net.dispose();
  }, 300_000);
});

describe('flow-matching loss with a context margin', () => {
  it('equals the plain MSE over the crop without its border, and refuses a margin that leaves nothing', async () => {
    await gpu();
    const net = withInitSeed(6, () => new VelocityNet({ baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 }));
    const S = 16;
    const m = 3;
    const T = (seed: number) => tensor(Float32Array.from({ length: 2 * S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37 + seed)), [2, 1, S, S]).keep();
    const [xA, xB, x1] = [T(1), T(2), T(3)];
    const t = [0.2, 0.7];
    const withMargin = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin: m })).item();
    // by hand: the net's output and the target, compared on the centre only
    const pred = await noGrad(() => net.forward(interpolateAt(xA, xB, x1, t), xA, xB, t)).data();
    const a = await xA.data(), b = await xB.data(), l = await x1.data();
    let se = 0;
    let n = 0;
    for (let k = 0; k < 2; k++) for (let y = m; y < S - m; y++) for (let x = m; x < S - m; x++) {
      const i = k * S * S + y * S + x;
      se += (pred[i]! - (l[i]! - (a[i]! + b[i]!))) ** 2;
      n++;
    }
    expect(Math.abs(withMargin - se / n) / (se / n)).toBeLessThan(1e-5);
    expect(() => noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin: 8 }))).toThrow('flowMatchingLoss: margin 8 leaves nothing of a 16x16 crop');
    net.dispose();
  });
});

describe('flow-matching loss on the net\'s own path', () => {
  it('puts a chosen sample\'s x_t on the path to the net\'s one-step prediction (checked by hand), leaves the others on the label\'s, and its gradient still reaches the net', async () => {
    await gpu();
    const cfg = { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8, head: 'blend' as const };
    const net = withInitSeed(6, () => new VelocityNet(cfg));
    const S = 16;
    const T = (seed: number) => tensor(Float32Array.from({ length: 2 * S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37 + seed)), [2, 1, S, S]).keep();
    const [xA, xB, x1] = [T(1), T(2), T(3)];
    const t = [0.6, 0.3];
    const own = [true, false];
    const loss = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { ownPath: own })).item();
    // by hand: sample 0 on the path from x0 to x0 + v(0, x0), sample 1 on the label's path
    const x0 = flowSource('sum', xA, xB);
    const one = await noGrad(() => net.forward(x0, xA, xB, [0, 0], x0)).data();
    const a = await xA.data(), b = await xB.data(), l = await x1.data();
    const end = Float32Array.from(l, (v, i) => (i < S * S ? a[i]! + b[i]! + one[i]! : v));
    const xt = interpolate(x0, tensor(end, [2, 1, S, S]), tensor(Float32Array.from(t), [2, 1, 1, 1]));
    const pred = await noGrad(() => net.forward(xt, xA, xB, t, x0)).data();
    let se = 0;
    for (let i = 0; i < 2 * S * S; i++) se += (pred[i]! - (l[i]! - (a[i]! + b[i]!))) ** 2;
    expect(Math.abs(loss - se / (2 * S * S)) / (se / (2 * S * S))).toBeLessThan(1e-5);
    // the own path is another state than the label's: the loss moves
    const plain = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum')).item();
    expect(Math.abs(loss - plain)).toBeGreaterThan(1e-6);
    expect(await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { ownPath: [false, false] })).item()).toBe(plain);
    await scope(async () => {
      net.zeroGrad();
      backward(flowMatchingLoss(net, xA, xB, x1, t, 'sum', { ownPath: own }));
      let g = 0;
      for (const p of net.parameters()) if (p.grad) for (const v of await p.grad.data()) g += v * v;
      expect(g).toBeGreaterThan(0);
    });
    expect(() => noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { ownPath: [true] }))).toThrow('ownPath has 1 entries for 2 samples');
    net.dispose();
  });
});

describe('flow-matching loss with an edge term', () => {
  it('adds w times the mean absolute Sobel gradient of the velocity error over the valid interior, or over the pixels a context margin leaves (checked by hand), and its gradient reaches the net', async () => {
    await gpu();
    const net = withInitSeed(6, () => new VelocityNet({ baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 }));
    const S = 12;
    const T = (seed: number) => tensor(Float32Array.from({ length: 2 * S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37 + seed)), [2, 1, S, S]).keep();
    const [xA, xB, x1] = [T(1), T(2), T(3)];
    const t = [0.1, 0.6];
    const plain = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum')).item();
    const withEdges = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { gradWeight: 0.5 })).item();
    const pred = await noGrad(() => net.forward(interpolateAt(xA, xB, x1, t), xA, xB, t)).data();
    const a = await xA.data(), b = await xB.data(), l = await x1.data();
    const e = pred.map((v, i) => v - (l[i]! - (a[i]! + b[i]!)));
    const sx = [-1, 0, 1, -2, 0, 2, -1, 0, 1], sy = [-1, -2, -1, 0, 0, 0, 1, 2, 1];
    /** the mean |Sobel x| + |Sobel y| of the error over pixels lo .. S - 1 - lo of each side */
    const edgeMean = (lo: number) => {
      let total = 0;
      for (let k = 0; k < 2; k++) for (let y = lo; y < S - lo; y++) for (let x = lo; x < S - lo; x++) {
        let gx = 0, gy = 0;
        for (let j = 0; j < 9; j++) {
          const v = e[k * S * S + (y + Math.floor(j / 3) - 1) * S + x + (j % 3) - 1]!;
          gx += (sx[j]! * v) / 8;
          gy += (sy[j]! * v) / 8;
        }
        total += Math.abs(gx) + Math.abs(gy);
      }
      return total / (2 * 2 * (S - 2 * lo) * (S - 2 * lo));
    };
    const edge = edgeMean(1);
    expect(Math.abs(withEdges - plain - 0.5 * edge) / (0.5 * edge)).toBeLessThan(1e-4);
    // with a context margin the edge term counts the same pixels as the squared error
    const marginOnly = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin: 3 })).item();
    const marginEdges = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin: 3, gradWeight: 0.5 })).item();
    expect(Math.abs(marginEdges - marginOnly - 0.5 * edgeMean(3)) / (0.5 * edgeMean(3))).toBeLessThan(1e-4);
    await scope(async () => {
      net.zeroGrad();
      backward(flowMatchingLoss(net, xA, xB, x1, t, 'sum', { gradWeight: 0.5 }));
      const g = await net.unet.convOut.weight.grad!.data();
      expect(g.some((v) => v !== 0) && g.every(Number.isFinite)).toBe(true);
    });
    net.dispose();
  });
});

describe('flow-matching loss with a texture term', () => {
  it("adds w times the mean absolute difference between the one-step prediction's Sobel magnitudes and the sharper source's (checked by hand, with and without a margin), beside the edge term, and its gradient reaches the net", async () => {
    await gpu();
    const net = withInitSeed(6, () => new VelocityNet({ baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 }));
    const S = 12;
    const T = (seed: number, f: number) => tensor(Float32Array.from({ length: 2 * S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * f + seed)), [2, 1, S, S]).keep();
    // sources of different frequency, so that each is the sharper one somewhere
    const [xA, xB, x1] = [T(1, 0.37), T(2, 0.9), T(3, 0.5)];
    const t = [0.2, 0.7];
    const plain = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { gradWeight: 0.5 })).item();
    const withTexture = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { gradWeight: 0.5, textureWeight: 0.3 })).item();
    const pred = await noGrad(() => net.forward(interpolateAt(xA, xB, x1, t), xA, xB, t)).data();
    const a = await xA.data(), b = await xB.data();
    const fused = pred.map((v, i) => v + a[i]! + b[i]!);
    const sx = [-1, 0, 1, -2, 0, 2, -1, 0, 1], sy = [-1, -2, -1, 0, 0, 0, 1, 2, 1];
    const grad = (img: Float32Array, k: number, y: number, x: number, w: number[]) => {
      let g = 0;
      for (let j = 0; j < 9; j++) g += (w[j]! * img[k * S * S + (y + Math.floor(j / 3) - 1) * S + x + (j % 3) - 1]!) / 8;
      return Math.abs(g);
    };
    /** the term by hand over pixels lo .. S - 1 - lo of each side */
    const textureMean = (lo: number) => {
      let total = 0;
      for (let k = 0; k < 2; k++) for (let y = lo; y < S - lo; y++) for (let x = lo; x < S - lo; x++) {
        for (const w of [sx, sy]) total += Math.abs(grad(fused, k, y, x, w) - Math.max(grad(a, k, y, x, w), grad(b, k, y, x, w)));
      }
      return total / (2 * 2 * (S - 2 * lo) * (S - 2 * lo));
    };
    expect(Math.abs(withTexture - plain - 0.3 * textureMean(1)) / (0.3 * textureMean(1))).toBeLessThan(1e-4);
    const margin = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin: 3 })).item();
    const marginTexture = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin: 3, textureWeight: 0.3 })).item();
    expect(Math.abs(marginTexture - margin - 0.3 * textureMean(3)) / (0.3 * textureMean(3))).toBeLessThan(1e-4);
    await scope(async () => {
      net.zeroGrad();
      backward(flowMatchingLoss(net, xA, xB, x1, t, 'sum', { textureWeight: 0.3 }));
      const g = await net.unet.convOut.weight.grad!.data();
      expect(g.some((v) => v !== 0) && g.every(Number.isFinite)).toBe(true);
    });
    net.dispose();
  });
});

describe('flow-matching loss with a choice term', () => {
  it("adds, per sample, w times the mean squared error of the blend head's hard choice xB + sigmoid(10 l) (xA - xB) against the label (checked by hand, with and without a margin), and its gradient reaches the weight logit", async () => {
    await gpu();
    const S = 12;
    const net = withInitSeed(6, () => new VelocityNet({ baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8, head: 'blend' }));
    // a silent output layer: weight logit 0.08 (sigmoid(0.8) after sharpening) and residual 0.2 everywhere
    const conv = net.unet.convOut;
    conv.weight.write(new Float32Array(conv.weight.size));
    conv.bias!.write(Float32Array.from([0.08, 0.2]));
    const T = (seed: number, f: number) => tensor(Float32Array.from({ length: 2 * S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * f + seed)), [2, 1, S, S]).keep();
    const [xA, xB, x1] = [T(1, 0.37), T(2, 0.9), T(3, 0.5)];
    const t = [0.2, 0.7];
    const weights = [0.7, 0];
    const a = await xA.data(), b = await xB.data(), y = await x1.data();
    const s = 1 / (1 + Math.exp(-0.8));
    /** the term by hand over pixels lo .. S - 1 - lo of each side: sample 0 only (sample 1 weighs 0), divided by both samples' pixels */
    const choiceMean = (lo: number) => {
      let total = 0;
      for (let yy = lo; yy < S - lo; yy++) for (let x = lo; x < S - lo; x++) {
        const i = yy * S + x;
        total += weights[0]! * (b[i]! + s * (a[i]! - b[i]!) - y[i]!) ** 2;
      }
      return total / (2 * (S - 2 * lo) * (S - 2 * lo));
    };
    for (const margin of [0, 3]) {
      const plain = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin })).item();
      const withChoice = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { margin, choiceWeight: weights })).item();
      expect(Math.abs(withChoice - plain - choiceMean(margin)) / choiceMean(margin)).toBeLessThan(1e-4);
    }
    // all weights 0: no term
    const none = await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { choiceWeight: [0, 0] })).item();
    expect(none).toBe(await noGrad(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum')).item());
    // the gradient of the term alone reaches the logit's bias (the flow term's gradient differs: compare both)
    const biasGrad = async (choiceWeight?: number[]) => scope(async () => {
      net.zeroGrad();
      backward(flowMatchingLoss(net, xA, xB, x1, t, 'sum', choiceWeight ? { choiceWeight } : {}));
      return (await conv.bias!.grad!.data())[0]!;
    });
    const [g0, g1] = [await biasGrad(), await biasGrad(weights)];
    expect(Number.isFinite(g1) && Math.abs(g1 - g0) > 1e-6).toBe(true);
    expect(() => flowMatchingLoss(net, xA, xB, x1, t, 'sum', { choiceWeight: [1] })).toThrow(/choiceWeight has 1 entries for 2 samples/);
    const velocityNet = withInitSeed(6, () => new VelocityNet({ baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 }));
    expect(() => noGrad(() => flowMatchingLoss(velocityNet, xA, xB, x1, t, 'sum', { choiceWeight: weights }))).toThrow(/needs a net with a blend head/);
    velocityNet.dispose();
    net.dispose();
  });
});

describe('the two-band blend head (blend2)', () => {
  it("one Euler step lands on xB + s_lo (bA - bB) + s_hi ((xA - bA) - (xB - bB)) + r with b the 3x3 binomial blur twice: the blend head where both weights agree, A's base under B's detail where they differ", async () => {
    await gpu();
    const S = 16;
    const cfg = { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 };
    const net = withInitSeed(2, () => new VelocityNet({ ...cfg, head: 'blend2' }));
    expect(net.unet.convOut.bias!.size).toBe(3);
    const plane = (seed: number) => Float32Array.from({ length: S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37 + seed) * Math.cos(i * 0.11));
    const [a, b] = [plane(1), plane(2)];
    const [xA, xB] = [tensor(a, [1, 1, S, S]).keep(), tensor(b, [1, 1, S, S]).keep()];
    // the 3x3 binomial blur, zero padding, applied twice
    const k = [1, 2, 1];
    const blur3 = (x: Float32Array) => Float32Array.from({ length: S * S }, (_, i) => {
      const [y0, x0] = [Math.floor(i / S), i % S];
      let acc = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const [y, xx] = [y0 + dy, x0 + dx];
        if (y >= 0 && y < S && xx >= 0 && xx < S) acc += (k[dy + 1]! * k[dx + 1]! * x[y * S + xx]!) / 16;
      }
      return acc;
    });
    const blur = (x: Float32Array) => blur3(blur3(x));
    const [bA, bB] = [blur(a), blur(b)];
    const conv = net.unet.convOut;
    const fuseWith = async (bias: [number, number, number]) => {
      conv.weight.write(new Float32Array(conv.weight.size));
      conv.bias!.write(Float32Array.from(bias));
      return noGrad(() => integrate(net, flowSource('sum', xA, xB), xA, xB, 1)).data();
    };
    const maxErr = (out: Float32Array, want: (i: number) => number) => Math.max(...out.map((v, i) => Math.abs(v - want(i))));
    const s = 1 / (1 + Math.exp(-0.4));
    expect(maxErr(await fuseWith([0.4, 0.4, 0.1]), (i) => b[i]! + s * (a[i]! - b[i]!) + 0.1)).toBeLessThan(1e-5);
    // base of A, detail of B
    expect(maxErr(await fuseWith([30, -30, 0]), (i) => bA[i]! + (b[i]! - bB[i]!))).toBeLessThan(1e-5);
    net.dispose();
  });
});

describe('the pyramid blend head', () => {
  // a float64 Laplacian pyramid as the head builds it: 2x2 average pooling down, bilinear up
  // (half-pixel centres, edges clamped), the last level the base
  const pool = (x: Float64Array, s: number) => Float64Array.from({ length: (s / 2) ** 2 }, (_, i) => {
    const [y, xx] = [2 * Math.floor(i / (s / 2)), 2 * (i % (s / 2))];
    return (x[y * s + xx]! + x[y * s + xx + 1]! + x[(y + 1) * s + xx]! + x[(y + 1) * s + xx + 1]!) / 4;
  });
  const up = (x: Float64Array, s: number) => Float64Array.from({ length: 4 * s * s }, (_, i) => {
    const at = (o: number) => {
      const c = Math.max(0, (o + 0.5) / 2 - 0.5);
      const lo = Math.floor(c);
      return [lo, Math.min(lo + 1, s - 1), c - lo] as const;
    };
    const [y0, y1, fy] = at(Math.floor(i / (2 * s)));
    const [x0, x1, fx] = at(i % (2 * s));
    const v = (y: number, xx: number) => x[y * s + xx]!;
    return (1 - fy) * ((1 - fx) * v(y0, x0) + fx * v(y0, x1)) + fy * ((1 - fx) * v(y1, x0) + fx * v(y1, x1));
  });
  /** collapse_l(w_l L_l(d)) for constant weights w_l per level */
  const weighted = (d: Float64Array, S: number, w: number[]) => {
    const gauss = [d];
    for (let l = 1; l < w.length; l++) gauss.push(pool(gauss[l - 1]!, S >> (l - 1)));
    let cur = gauss[w.length - 1]!.map((v) => w[w.length - 1]! * v);
    for (let l = w.length - 2; l >= 0; l--) {
      const s = S >> l;
      const [upG, upCur] = [up(gauss[l + 1]!, s / 2), up(cur, s / 2)];
      cur = gauss[l]!.map((v, i) => w[l]! * (v - upG[i]!) + upCur[i]!);
    }
    return cur;
  };

  it('one Euler step lands on xB + collapse_l(s_l L_l(xA - xB)) + r: the blend head where all levels agree, A\'s fine band over B\'s coarse ones where they differ; sizes a multiple of the coarsest level', async () => {
    await gpu();
    const S = 32;
    const cfg = { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 };
    const net = withInitSeed(2, () => new VelocityNet({ ...cfg, head: 'pyramid' }));
    expect(PYRAMID_LEVELS).toBe(4);
    expect(net.unet.convOut.bias!.size).toBe(PYRAMID_LEVELS + 1);
    expect(net.sizeMultiple).toBe(8); // the U-Net alone needs 2
    const plane = (seed: number) => Float32Array.from({ length: S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37 + seed) * Math.cos(i * 0.11));
    const [a, b] = [plane(1), plane(2)];
    const [xA, xB] = [tensor(a, [1, 1, S, S]).keep(), tensor(b, [1, 1, S, S]).keep()];
    const d = Float64Array.from(a, (v, i) => v - b[i]!);
    const conv = net.unet.convOut;
    const fuseWith = async (bias: number[]) => {
      conv.weight.write(new Float32Array(conv.weight.size));
      conv.bias!.write(Float32Array.from(bias));
      return noGrad(() => integrate(net, flowSource('sum', xA, xB), xA, xB, 1)).data();
    };
    const maxErr = (out: Float32Array, want: (i: number) => number) => Math.max(...out.map((v, i) => Math.abs(v - want(i))));
    const s = 1 / (1 + Math.exp(-0.4));
    expect(maxErr(await fuseWith([0.4, 0.4, 0.4, 0.4, 0.1]), (i) => b[i]! + s * (a[i]! - b[i]!) + 0.1)).toBeLessThan(1e-5);
    // A's finest band over B's coarser bands and base
    const fineOfA = weighted(d, S, [1, 0, 0, 0]);
    expect(maxErr(await fuseWith([30, -30, -30, -30, 0]), (i) => b[i]! + fineOfA[i]!)).toBeLessThan(1e-5);
    // the base and the middle bands differ too: every level has its own map
    const s3 = 1 / (1 + Math.exp(-1));
    const mixed = weighted(d, S, [0, 1, 0, s3]);
    const got = await fuseWith([-30, 30, -30, 1, 0]);
    expect(maxErr(got, (i) => b[i]! + mixed[i]!)).toBeLessThan(1e-5);
    expect(maxErr(got, (i) => b[i]! + fineOfA[i]!)).toBeGreaterThan(0.01);
    const small = () => tensor(new Float32Array(12 * 12), [1, 1, 12, 12]);
    expect(() => noGrad(() => net.forward(small(), small(), small(), [0], small()))).toThrow(/multiples of 8/);
    net.dispose();
  });
});

/** x_t on the sum coupling's straight path, as flowMatchingLoss builds it */
function interpolateAt(xA: Tensor, xB: Tensor, x1: Tensor, t: number[]): Tensor {
  return interpolate(flowSource('sum', xA, xB), x1, tensor(Float32Array.from(t), [t.length, 1, 1, 1]));
}

describe('the blend head and the source gate', () => {
  const cfg = { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8, head: 'blend' as const };
  const S = 16;
  const plane = (seed: number) => tensor(Float32Array.from({ length: S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37 + seed)), [1, 1, S, S]).keep();

  it('one Euler step lands on xB + sigmoid(l) (xA - xB) + r: the average with a silent output layer, xA with a large weight logit, plus the residual', async () => {
    await gpu();
    const net = withInitSeed(2, () => new VelocityNet(cfg));
    const [xA, xB] = [plane(1), plane(2)];
    const a = await xA.data(), b = await xB.data();
    const conv = net.unet.convOut;
    const maxDiff = (p: Float32Array, q: Float32Array) => Math.max(...p.map((v, i) => Math.abs(v - q[i]!)));
    // a silent output layer makes the prediction constant along the path: every k and every
    // coupling (every source x0) lands on the same image
    const fuseWith = async (bias: [number, number]) => {
      conv.weight.write(new Float32Array(conv.weight.size));
      conv.bias!.write(Float32Array.from(bias));
      const run = (coupling: 'sum' | 'average', k: number) => noGrad(() => integrate(net, flowSource(coupling, xA, xB), xA, xB, k)).data();
      const out = await run('sum', 1);
      for (const [coupling, k] of [['sum', 2], ['average', 1], ['average', 2]] as const) expect(maxDiff(out, await run(coupling, k))).toBeLessThan(1e-5);
      return out;
    };
    const avg = await fuseWith([0, 0]);
    expect(Math.max(...avg.map((v, i) => Math.abs(v - (a[i]! + b[i]!) / 2)))).toBeLessThan(1e-5);
    const pickA = await fuseWith([30, 0.25]);
    expect(Math.max(...pickA.map((v, i) => Math.abs(v - (a[i]! + 0.25))))).toBeLessThan(1e-5);
    net.dispose();
  });

  it('learns: 60 steps on one crop bring the one-step output close to a per-pixel choice between the sources', async () => {
    await gpu();
    const net = withInitSeed(3, () => new VelocityNet(cfg));
    const [xA, xB] = [plane(1), plane(4)];
    const a = await xA.data(), b = await xB.data();
    const x1 = tensor(a.map((v, i) => Math.max(v, b[i]!)), [1, 1, S, S]).keep(); // the max fusion
    const opt = new AdamW(net.parameters(), { lr: 3e-3, weightDecay: 0 });
    const rng = new SeededRng(5);
    const start = await noGrad(() => mseLoss(integrate(net, flowSource('sum', xA, xB), xA, xB, 1), x1)).item();
    for (let step = 0; step < 60; step++) {
      await scope(async () => {
        net.zeroGrad();
        backward(flowMatchingLoss(net, xA, xB, x1, [rng.next()], 'sum'));
        await opt.step();
      });
    }
    const err = await noGrad(() => mseLoss(integrate(net, flowSource('sum', xA, xB), xA, xB, 1), x1)).item();
    console.log(`blend head: one-step MSE to the max fusion ${start.toExponential(2)} -> ${err.toExponential(2)} in 60 steps`);
    expect(err).toBeLessThan(start / 10);
    net.dispose();
  }, 300_000);

  it('a source gate keeps black black, for either head: where both sources are 0 one step gives exactly 0, where they sum to the gate or more it changes nothing, in between it moves less', async () => {
    await gpu();
    // left quarter black in both sources, then a ramp through the gate, then bright content
    const src = (seed: number) => Float32Array.from({ length: S * S }, (_, i) => {
      const x = i % S;
      return x < 4 ? 0 : x < 6 ? (x - 3) * (0.5 / 255) : 0.5 + 0.4 * Math.sin(i * 0.37 + seed);
    });
    const [a, b] = [src(1), src(2)];
    const [xA, xB] = [tensor(a, [1, 1, S, S]).keep(), tensor(b, [1, 1, S, S]).keep()];
    for (const head of ['velocity', 'blend'] as const) {
      const gated = withInitSeed(2, () => new VelocityNet({ ...cfg, head, sourceGate: 2 / 255 }));
      const plain = withInitSeed(2, () => new VelocityNet({ ...cfg, head })); // the same weights, no gate
      // an output of 0.3 more everywhere: without the gate it shows in the black
      const bias = await gated.unet.convOut.bias!.data();
      const raised = bias.map((v, i) => (i === bias.length - 1 ? v + 0.3 : v));
      gated.unet.convOut.bias!.write(raised);
      plain.unet.convOut.bias!.write(raised);
      const oneStep = (net: VelocityNet) => noGrad(() => integrate(net, flowSource('sum', xA, xB), xA, xB, 1)).data();
      const [g, p] = [await oneStep(gated), await oneStep(plain)];
      let black = 0, above = 0, ramp = 0;
      for (let i = 0; i < S * S; i++) {
        const x0 = a[i]! + b[i]!;
        if (x0 === 0) { expect(g[i]).toBe(0); expect(Math.abs(p[i]!)).toBeGreaterThan(0.05); black++; }
        else if (x0 >= 2 / 255) { expect(Math.abs(g[i]! - p[i]!)).toBeLessThan(1e-6); above++; }
        else { expect((g[i]! - x0) * (p[i]! - x0)).toBeGreaterThan(0); expect(Math.abs(g[i]! - x0)).toBeLessThan(Math.abs(p[i]! - x0)); ramp++; }
      }
      expect([head, black, above > 0, ramp > 0]).toEqual([head, 4 * S, true, true]);
      gated.dispose();
      plain.dispose();
    }
  });

  it('needs the flow source; model files keep the head and refuse an unknown one, a blend head on a ddpm model, or a source gate that is out of range, on a ddpm model or on a flow from gaussian noise', async () => {
    await gpu();
    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { saveFlowModel } = await import('../src/io/flow-checkpoint.js');
    const { stateDict } = await import('../src/nn/state.js');
    const net = withInitSeed(1, () => new VelocityNet(cfg));
    const [xA, xB] = [plane(1), plane(2)];
    expect(() => noGrad(() => net.forward(xA, xA, xB, [0]))).toThrow("the 'blend' head needs the flow's source x0");
    const dir = mkdtempSync(join(tmpdir(), 'ffm-head-'));
    const sd = await stateDict(net);
    saveFlowModel(join(dir, 'b.safetensors'), sd, { tasks: ['ivf'], config: cfg, coupling: 'sum', provenance: {} });
    const back = loadFlowModel(join(dir, 'b.safetensors'));
    expect(back.net.head).toBe('blend');
    const x0 = flowSource('sum', xA, xB).keep();
    const d1 = await noGrad(() => net.forward(x0, xA, xB, [0], x0)).data();
    const d2 = await noGrad(() => back.net.forward(x0, xA, xB, [0], x0)).data();
    expect(Math.max(...d1.map((v, i) => Math.abs(v - d2[i]!)))).toBe(0);
    saveFlowModel(join(dir, 'u.safetensors'), sd, { tasks: ['ivf'], config: { ...cfg, head: 'mixture' as never }, coupling: 'sum', provenance: {} });
    expect(() => loadFlowModel(join(dir, 'u.safetensors'))).toThrow("u.safetensors: the model configuration: unknown head 'mixture'; expected velocity or blend");
    saveFlowModel(join(dir, 'd.safetensors'), sd, { tasks: ['ivf'], config: cfg, coupling: 'sum', objective: 'ddpm', provenance: {} });
    expect(() => loadFlowModel(join(dir, 'd.safetensors'))).toThrow("a 'blend' head cannot predict the noise of a ddpm model");
    saveFlowModel(join(dir, 'g.safetensors'), sd, { tasks: ['ivf'], config: { ...cfg, head: 'velocity', sourceGate: 0.01 }, coupling: 'sum', objective: 'ddpm', provenance: {} });
    expect(() => loadFlowModel(join(dir, 'g.safetensors'))).toThrow('g.safetensors: a source gate holds the flow still where both sources are black; a ddpm model predicts noise');
    saveFlowModel(join(dir, 'z.safetensors'), sd, { tasks: ['ivf'], config: { ...cfg, sourceGate: 0.01 }, coupling: 'gaussian', provenance: {} });
    expect(() => loadFlowModel(join(dir, 'z.safetensors'))).toThrow('z.safetensors: a source gate keeps black black only on a flow that starts at the sources');
    saveFlowModel(join(dir, 'n.safetensors'), sd, { tasks: ['ivf'], config: { ...cfg, sourceGate: -1 }, coupling: 'sum', provenance: {} });
    expect(() => loadFlowModel(join(dir, 'n.safetensors'))).toThrow("n.safetensors: the model configuration's sourceGate must be a number in [0, 1], got -1");
    net.dispose();
    back.net.dispose();
  });
});
