import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backward } from '../src/autograd/backward.js';
import { tensor } from '../src/autograd/create.js';
import { mseLoss } from '../src/autograd/ops.js';
import { scope } from '../src/autograd/tensor.js';
import { ContinualTrainer, type ContinualConfig } from '../src/fusion/flow/continual.js';
import { ReplayBuffer } from '../src/fusion/flow/replay.js';
import { DEFAULT_TRAIN, type TrainConfig, type Triple } from '../src/fusion/flow/trainer.js';
import { estimateFisher, mergeEwc, normaliseFisher } from '../src/nn/fisher.js';
import { Linear } from '../src/nn/layers.js';
import { withInitSeed } from '../src/nn/module.js';
import { AdamW } from '../src/nn/optim.js';
import { SeededRng } from '../src/util/rng.js';
import { mergeContinualResults, pairedComparisons, pairedInterval, seedSummary, transferMetrics, writeContinualReport, type ContinualResults } from '../bench/continual/continual-report.js';
import { stepsThatFit } from '../bench/gpu/continual-steps.js';
import { chooseLambda } from '../bench/continual/continual-lambda.js';
import { holdOutPairs } from '../bench/continual/continual-setup.js';
import { gpu, randomArray } from './helpers.js';

const IN = 3;
const OUT = 2;

/** float64 reference: per-sample gradient of mean((W x + b - y)^2) over the outputs, squared, averaged. */
function fisherReference(W: Float32Array, b: Float32Array, xs: Float32Array, ys: Float32Array, n: number): { w: Float64Array; b: Float64Array } {
  const fw = new Float64Array(OUT * IN);
  const fb = new Float64Array(OUT);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < OUT; o++) {
      let y = b[o]!;
      for (let k = 0; k < IN; k++) y += W[o * IN + k]! * xs[i * IN + k]!;
      const r = (2 / OUT) * (y - ys[i * OUT + o]!);
      fb[o]! += r * r;
      for (let k = 0; k < IN; k++) fw[o * IN + k]! += (r * xs[i * IN + k]!) ** 2;
    }
  }
  return { w: fw.map((v) => v / n), b: fb.map((v) => v / n) };
}

describe('elastic weight consolidation', () => {
  it('the diagonal Fisher of a tiny model matches a float64 CPU computation', async () => {
    await gpu();
    const net = withInitSeed(4, () => new Linear(IN, OUT));
    const n = 7;
    const xs = randomArray(n * IN, 1);
    const ys = randomArray(n * OUT, 2);
    const fisher = await estimateFisher(net.parameters(), n, (i) => mseLoss(net.forward(tensor(xs.subarray(i * IN, (i + 1) * IN), [1, IN])), tensor(ys.subarray(i * OUT, (i + 1) * OUT), [1, OUT])));
    const ref = fisherReference(await net.weight.data(), await net.bias!.data(), xs, ys, n);
    const got = await fisher.get(net.weight)!.data();
    const gotB = await fisher.get(net.bias!)!.data();
    for (let i = 0; i < ref.w.length; i++) expect(got[i]).toBeCloseTo(ref.w[i]!, 5);
    for (let i = 0; i < ref.b.length; i++) expect(gotB[i]).toBeCloseTo(ref.b[i]!, 5);
    for (const f of fisher.values()) f.dispose();
    net.dispose();
  });

  it('merging penalties keeps the gradient of both: F = F1 + F2, anchor = Fisher-weighted mean', async () => {
    await gpu();
    const p = tensor([1, 2, 3], [3]).keep();
    const f1 = new Map([[p, tensor([1, 0, 2], [3]).keep()]]);
    const first = mergeEwc(null, f1, [p]);
    p.rt.upload(p.storage, Float32Array.from([3, 4, 5]));
    const f2 = new Map([[p, tensor([1, 0, 6], [3]).keep()]]);
    const both = mergeEwc(first, f2, [p]);
    expect(Array.from(await both.fisher.get(p)!.data())).toEqual([2, 0, 8]);
    const a = await both.anchor.get(p)!.data();
    expect(a[0]).toBeCloseTo(2, 5); // (1*1 + 1*3) / 2
    expect(a[1]).toBeCloseTo(4, 5); // no Fisher anywhere: the current value
    expect(a[2]).toBeCloseTo((2 * 3 + 6 * 5) / 8, 5);
  });

  it('scaling the Fisher: globally to mean 1 over all parameters, or each tensor to mean 1 on its own', async () => {
    await gpu();
    const p = tensor([0, 0], [2]).keep();
    const q = tensor([0, 0, 0, 0], [4]).keep();
    const z = tensor([0], [1]).keep();
    const make = () => new Map([[p, tensor([2, 6], [2]).keep()], [q, tensor([0.1, 0.3, 0, 0], [4]).keep()], [z, tensor([0], [1]).keep()]]);
    const mean = (2 + 6 + 0.1 + 0.3) / 7;
    const global = make();
    expect(await normaliseFisher(global)).toBeCloseTo(mean, 6);
    expect(Array.from(await global.get(p)!.data()).map((x) => x * mean)).toEqual([expect.closeTo(2, 5), expect.closeTo(6, 5)]);
    const per = make();
    expect(await normaliseFisher(per, 'tensor')).toBeCloseTo(mean, 6);
    expect(Array.from(await per.get(p)!.data())).toEqual([expect.closeTo(0.5, 6), expect.closeTo(1.5, 6)]);
    expect(Array.from(await per.get(q)!.data())).toEqual([expect.closeTo(1, 5), expect.closeTo(3, 5), 0, 0]);
    // a tensor without gradient stays zero instead of dividing by zero
    expect(Array.from(await per.get(z)!.data())).toEqual([0]);
    for (const t of [p, q, z, ...global.values(), ...per.values()]) t.dispose();
  });

  it('with lambda large, the weights that matter for task 1 barely move while task 2 trains', async () => {
    await gpu();
    const xs1 = randomArray(16 * IN, 3);
    const ys1 = randomArray(16 * OUT, 4);
    const xs2 = randomArray(16 * IN, 5);
    const ys2 = randomArray(16 * OUT, 6).map((v) => 3 * v + 2); // a different mapping
    const train = async (net: Linear, opt: AdamW, xs: Float32Array, ys: Float32Array, steps: number) => {
      for (let s = 0; s < steps; s++) await scope(async () => {
        net.zeroGrad();
        backward(mseLoss(net.forward(tensor(xs, [16, IN])), tensor(ys, [16, OUT])));
        await opt.step();
      });
    };
    const drift = async (lambda: number) => {
      const net = withInitSeed(5, () => new Linear(IN, OUT));
      const opt = new AdamW(net.parameters(), { lr: 0.05, weightDecay: 0 });
      await train(net, opt, xs1, ys1, 60);
      const fisher = await estimateFisher(net.parameters(), 16, (i) => mseLoss(net.forward(tensor(xs1.subarray(i * IN, (i + 1) * IN), [1, IN])), tensor(ys1.subarray(i * OUT, (i + 1) * OUT), [1, OUT])));
      const ewc = mergeEwc(null, fisher, net.parameters());
      if (lambda > 0) opt.ewc = { lambda, fisher: ewc.fisher, anchor: ewc.anchor };
      await train(net, opt, xs2, ys2, 60);
      // Fisher-weighted squared drift from the task-1 weights
      let d = 0;
      for (const p of net.parameters()) {
        const [f, a, v] = [await ewc.fisher.get(p)!.data(), await ewc.anchor.get(p)!.data(), await p.data()];
        for (let i = 0; i < v.length; i++) d += f[i]! * (v[i]! - a[i]!) ** 2;
      }
      net.dispose();
      opt.dispose();
      return d;
    };
    const free = await drift(0);
    const held = await drift(1000);
    expect(free).toBeGreaterThan(0.05);
    expect(held).toBeLessThan(free / 20);
  });
});

describe('experience replay', () => {
  it('reservoir sampling keeps each task within its quota, uniformly over what it saw, and round-trips', () => {
    const r = new ReplayBuffer(4, 2);
    const rng = new SeededRng(1);
    const counts = new Array(40).fill(0);
    for (let trial = 0; trial < 400; trial++) {
      const buf = new ReplayBuffer(4, 1);
      for (let i = 0; i < 40; i++) buf.offer({ task: 'ivf', a: Float32Array.of(i), b: Float32Array.of(0), label: Float32Array.of(0) }, rng);
      for (let k = 0; k < 4; k++) counts[buf.toTensors().tensors.get('replay.ivf.a')!.data[k]!]++;
    }
    // each of the 40 crops should be kept 400 * 4 / 40 = 40 times on average
    expect(Math.min(...counts)).toBeGreaterThan(15);
    expect(Math.max(...counts)).toBeLessThan(70);
    for (let i = 0; i < 10; i++) r.offer({ task: i % 2 ? 'mif' : 'ivf', a: new Float32Array(4).fill(i), b: new Float32Array(4), label: new Float32Array(4) }, rng);
    expect(r.countOf('ivf')).toBe(4);
    expect(r.countOf('mif')).toBe(4);
    expect(r.sample(rng, 'ivf')!.task).toBe('mif');
    const { tensors, meta } = r.toTensors();
    const back = ReplayBuffer.fromTensors(tensors, meta, 'test');
    expect(back.toTensors().tensors.get('replay.mif.a')!.data).toEqual(tensors.get('replay.mif.a')!.data);
  });
});

describe('continual flow-matching training', () => {
  it('a run interrupted after its first task resumes to the same weights, replay buffer and penalty', async () => {
    await gpu();
    const pair = (seed: number, group: string): Triple => ({ name: `${group}${seed}`, w: 24, h: 24, a: randomArray(576, seed).map((v) => 0.5 + 0.4 * v), b: randomArray(576, seed + 1).map((v) => 0.5 + 0.4 * v), label: randomArray(576, seed + 2).map((v) => 0.5 + 0.4 * v), group });
    const data = new Map([['ivf', [pair(1, 'ivf')]], ['mif', [pair(5, 'mif')]]]);
    const train: TrainConfig = { ...DEFAULT_TRAIN, model: { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 }, batch: 2, crop: 16, warmup: 1 };
    const cc: ContinualConfig = { tasks: ['ivf', 'mif'], stepsPerTask: 3, ewcLambda: 1, fisherSamples: 2, replayQuota: 2, replayRatio: 0.5 };
    const straight = new ContinualTrainer(train, cc, data);
    await straight.run(() => {});
    const first = new ContinualTrainer(train, cc, data);
    let saved: Awaited<ReturnType<ContinualTrainer['state']>> | null = null;
    await first.run(() => {}, undefined, async (i) => {
      if (i === 0) {
        saved = await first.state();
        throw new Error('interrupted');
      }
    }).catch((e: Error) => expect(e.message).toBe('interrupted'));
    const resumed = new ContinualTrainer(train, cc, data);
    resumed.restore(saved!.tensors, JSON.parse(JSON.stringify(saved!.meta)), 'state');
    await resumed.run(() => {});
    const [s, r] = [await straight.state(), await resumed.state()];
    expect(r.meta.step).toBe(6);
    expect(r.meta.continual.replay).toEqual(s.meta.continual.replay);
    for (const [k, v] of s.tensors) expect(Array.from(r.tensors.get(k)!.data), k).toEqual(Array.from(v.data));
    for (const t of [straight, first, resumed]) t.dispose();
  }, 120_000);
  it('resetOptimizer: each task after the first starts with zero moments and bias correction from step 1; without it they carry over', async () => {
    await gpu();
    const pair = (seed: number, group: string): Triple => ({ name: `${group}${seed}`, w: 24, h: 24, a: randomArray(576, seed).map((v) => 0.5 + 0.4 * v), b: randomArray(576, seed + 1).map((v) => 0.5 + 0.4 * v), label: randomArray(576, seed + 2).map((v) => 0.5 + 0.4 * v), group });
    const data = new Map([['ivf', [pair(1, 'ivf')]], ['mif', [pair(5, 'mif')]]]);
    const train: TrainConfig = { ...DEFAULT_TRAIN, model: { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8 }, batch: 2, crop: 16, warmup: 1 };
    for (const resetOptimizer of [true, false]) {
      const cc: ContinualConfig = { tasks: ['ivf', 'mif'], stepsPerTask: 2, ewcLambda: 0, fisherSamples: 1, replayQuota: 0, replayRatio: 0, resetOptimizer };
      const t = new ContinualTrainer(train, cc, data);
      const seen: { step: number; m: number }[] = [];
      await t.run(() => {}, undefined, async () => {
        const { m, step } = t.trainer.opt.state();
        seen.push({ step, m: (await Promise.all(m.map((x) => x.data()))).reduce((s, d) => s + d.reduce((a, v) => a + Math.abs(v), 0), 0) });
      });
      // after the first task: reset (step 0, no moment) or carried (step 2, moments)
      expect(seen[0]!.step).toBe(resetOptimizer ? 0 : 2);
      if (resetOptimizer) expect(seen[0]!.m).toBe(0); else expect(seen[0]!.m).toBeGreaterThan(0);
      // the last task is not followed by a reset
      expect(seen[1]!.step).toBe(resetOptimizer ? 2 : 4);
      t.dispose();
    }
  }, 120_000);
});

describe('continual study report', () => {
  const run = (seed: number, untrained: number[], single: number[], variants: [string, number[][]][]): ContinualResults => ({
    bench: 'continual', adapter: 'test', commit: 'x', command: `run ${seed}`, tasks: ['a', 'b'], steps_per_task: 10,
    train: { lr: 1, seed }, eval: {}, untrained, single_task: single, single_task_mean: single.length ? (single[0]! + single[1]!) / 2 : null, seconds: 1,
    variants: variants.map(([variant, R]) => ({ variant, group: 'main', ewc_lambda: 1, replay_size: 0, R, ...transferMetrics(R, untrained), acc_vs_single: null, seconds: 1, seed })),
  });

  it('transfer metrics: ACC, BWT and FWT of a known R matrix', () => {
    const m = transferMetrics([[0.8, 0.3], [0.6, 0.9]], [0.1, 0.2]);
    expect(m.ACC).toBeCloseTo(0.75, 12);
    expect(m.BWT).toBeCloseTo(-0.2, 12);
    expect(m.FWT).toBeCloseTo(0.1, 12);
  });

  it('merging seeds: each seed is scored against its own single-task models, summarised as mean and range', () => {
    const s1 = run(1, [0.1, 0.2], [0.8, 0.6], [['EWC', [[0.8, 0.3], [0.6, 0.9]]]]);
    const s2 = run(2, [0.0, 0.1], [1.0, 0.8], [['EWC', [[0.7, 0.2], [0.5, 0.7]]]]);
    const merged = mergeContinualResults([s2, s1], 'merge');
    expect(merged.variants.map((v) => v.seed)).toEqual([1, 2]);
    expect(merged.seeds?.map((s) => s.seed)).toEqual([1, 2]);
    expect(merged.variants[0]!.acc_vs_single).toBeCloseTo(0.75 / 0.7, 12);
    expect(merged.variants[1]!.acc_vs_single).toBeCloseTo(0.6 / 0.9, 12);
    const [ewc] = seedSummary(merged);
    expect(ewc!.seeds).toEqual([1, 2]);
    expect(ewc!.ACC.mean).toBeCloseTo(0.675, 12);
    expect([ewc!.ACC.min, ewc!.ACC.max]).toEqual([0.6, 0.75]);
    expect(ewc!.BWT.mean).toBeCloseTo(-0.2, 12);
  });

  it('merging refuses runs of one seed that disagree on the untrained net or on the R of a variant, of another training setting, score or split; keeps an agreeing rerun once', () => {
    const a = run(1, [0.1, 0.2], [0.8, 0.6], []);
    expect(() => mergeContinualResults([a, run(1, [0.1, 0.3], [], [])], 'm')).toThrow(/untrained scores differ .* seed 1/);
    expect(() => mergeContinualResults([a, { ...run(2, [0.1, 0.2], [], []), train: { lr: 2, seed: 2 } }], 'm')).toThrow(/training setting/);
    // a rerun of a variant with the same seed is kept once when it agrees, refused when it does not
    const e = run(1, [0.1, 0.2], [], [['EWC', [[0.8, 0.3], [0.6, 0.9]]]]);
    expect(mergeContinualResults([a, e, { ...e, command: 'rerun' }], 'm').variants).toHaveLength(1);
    expect(() => mergeContinualResults([e, run(1, [0.1, 0.2], [], [['EWC', [[0.8, 0.3], [0.6, 0.8]]]])], 'm')).toThrow(/'EWC' with seed 1 gives another R/);
    // a named metric's matrices are another scale: never merged with the composite's
    expect(() => mergeContinualResults([a, { ...run(2, [0.1, 0.2], [], []), score: 'Qabf' }], 'm')).toThrow(/scores Qabf, not composite/);
    expect(mergeContinualResults([{ ...a, score: 'Qabf' }, { ...run(2, [0.1, 0.2], [], []), score: 'Qabf' }], 'm').score).toBe('Qabf');
    // scores on held-out training pairs are never merged with test scores
    expect(() => mergeContinualResults([a, { ...run(2, [0.1, 0.2], [], []), split: 'validation' }], 'm')).toThrow(/scored on the validation pairs, not the test pairs/);
  });

  it('paired differences by seed: mean and 95% t-interval, against every main variant that shares seeds', () => {
    // differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, half width 4.303 * 0.1 / sqrt(3)
    const x = pairedInterval([0.1, 0.2, 0.3]);
    expect(x.mean).toBeCloseTo(0.2, 12);
    expect(x.hi! - x.mean).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 12);
    expect(pairedInterval([0.5])).toEqual({ mean: 0.5, lo: null, hi: null, n: 1 });
    const R = (a: number) => [[0.5, 0.5], [a, 0.5]];
    const merged = mergeContinualResults([
      run(1, [0, 0], [], [['EWC + replay', R(0.5)], ['replay', R(0.3)], ['EWC', R(0.5)]]),
      run(2, [0, 0], [], [['EWC + replay', R(0.6)], ['replay', R(0.3)]]),
    ], 'm');
    const { target: rows, ewcOverReplay } = pairedComparisons(merged);
    expect(rows.map((r) => [r.other, r.seeds])).toEqual([['replay', [1, 2]], ['EWC', [1]]]);
    // replay_size is 0 in these runs, so no setting shares replay's buffer with EWC on
    expect(ewcOverReplay).toEqual([]);
    // BWT differences: 0.2 and 0.3 (R[1][0] - R[0][0] per run)
    expect(rows[0]!.BWT.mean).toBeCloseTo(0.25, 12);
    expect(rows[0]!.BWT.lo).toBeCloseTo(0.25 - (12.706 * Math.sqrt(0.005)) / Math.sqrt(2), 12);
  });

  it('the report\'s target line says how many paired BWT intervals back a best-by-the-means EWC + replay', () => {
    const R = (a: number) => [[0.5, 0.5], [a, 0.5]];
    // EWC + replay's BWT beats replay by 0.2 in both seeds (resolved) and fine-tuning by 0.3 and -0.1 (not)
    const merged = mergeContinualResults([
      run(1, [0, 0], [1, 1], [['EWC + replay', R(0.5)], ['replay', R(0.3)], ['fine-tuning', R(0.2)]]),
      run(2, [0, 0], [1, 1], [['EWC + replay', R(0.6)], ['replay', R(0.4)], ['fine-tuning', R(0.7)]]),
    ], 'm');
    const dir = mkdtempSync(join(tmpdir(), 'fusionfm-report-'));
    try {
      expect(writeContinualReport(dir, merged)).toMatch(/EWC \+ replay \(0\.0500\), met by the means; paired by seed, its BWT interval lies above 1 of the 2 other main variants;/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('EWC over replay: every EWC + replay setting with replay\'s buffer size, minus replay alone', () => {
    const R = (a: number) => [[0.5, 0.5], [a, 0.5]];
    const withSize = (r: ContinualResults, sizes: Record<string, [number, number]>) => ({ ...r, variants: r.variants.map((v) => ({ ...v, ewc_lambda: sizes[v.variant]![0], replay_size: sizes[v.variant]![1] })) });
    const sizes: Record<string, [number, number]> = { replay: [0, 64], 'EWC + replay': [1, 64], 'EWC + replay, lambda 0.1': [0.1, 64], 'EWC + replay, size 16': [1, 16], EWC: [1, 0] };
    const vs: [string, number[][]][] = [['replay', R(0.4)], ['EWC + replay', R(0.5)], ['EWC + replay, lambda 0.1', R(0.3)], ['EWC + replay, size 16', R(0.6)], ['EWC', R(0.2)]];
    const merged = mergeContinualResults([withSize(run(1, [0, 0], [], vs), sizes), withSize(run(2, [0, 0], [], vs), sizes)], 'm');
    const { ewcOverReplay } = pairedComparisons(merged);
    // in the merged report's order (lambda ascending within a group)
    expect(ewcOverReplay.map((x) => x.variant)).toEqual(['EWC + replay, lambda 0.1', 'EWC + replay']);
    expect(ewcOverReplay.map((x) => x.BWT.mean)).toEqual([0.3 - 0.4, 0.5 - 0.4].map((d) => expect.closeTo(d, 12)));
  });

  it('merging seeds of different adapters only when asked, one adapter per seed, each named in the report', () => {
    const gpu = { ...run(1, [0.1, 0.2], [0.8, 0.6], []), adapter: 'gpu' };
    const soft = run(2, [0.0, 0.1], [1.0, 0.8], []);
    expect(() => mergeContinualResults([gpu, soft], 'm')).toThrow(/another adapter/);
    expect(mergeContinualResults([gpu, soft], 'm', { mixedAdapters: true }).adapter).toBe('gpu (seed 1); test (seed 2)');
    expect(mergeContinualResults([soft, { ...soft, command: 'rerun' }], 'm', { mixedAdapters: true }).adapter).toBe('test');
    // one seed on two adapters is two different runs, never one
    expect(() => mergeContinualResults([gpu, run(1, [0.1, 0.2], [], [])], 'm', { mixedAdapters: true })).toThrow(/seed 1 ran on gpu .* one adapter/);
  });
});

describe('choosing the EWC lambda on held-out training pairs', () => {
  it('holds out k evenly spaced pairs per task, disjoint from the training pairs, and refuses a k the task cannot spare', () => {
    const triple = (name: string): Triple => ({ name, w: 1, h: 1, a: new Float32Array(1), b: new Float32Array(1), label: new Float32Array(1) });
    const byTask = new Map([['ivf', Array.from({ length: 10 }, (_, i) => triple(`ivf/${i}`))], ['mef', [triple('mef/0'), triple('mef/1'), triple('mef/2')]]]);
    const { train, val } = holdOutPairs(byTask, 2);
    expect(val.get('ivf')!.map((t) => t.name)).toEqual(['ivf/2', 'ivf/7']);
    expect(val.get('mef')!.map((t) => t.name)).toEqual(['mef/0', 'mef/2']);
    expect(train.get('ivf')!).toHaveLength(8);
    expect(train.get('ivf')!.some((t) => val.get('ivf')!.includes(t))).toBe(false);
    expect(holdOutPairs(byTask, 0).train.get('mef')).toHaveLength(3);
    expect(() => holdOutPairs(byTask, 3)).toThrow(/--val-pairs \(task mef\): 3 pairs held out of 3 leaves none to train on/);
  });

  const results = (split: 'validation' | undefined, runs: [string, number, number, number, number][]): ContinualResults => ({
    bench: 'continual', adapter: 'test', commit: 'x', command: 'val', tasks: ['a', 'b'], steps_per_task: 10, train: {}, eval: {}, untrained: [0, 0],
    single_task: [], single_task_mean: null, seconds: 1, ...(split ? { split } : {}),
    // [variant, seed, lambda, replay size, ACC]; R, BWT, FWT do not enter the choice beyond being reported
    variants: runs.map(([variant, seed, ewc_lambda, replay_size, ACC]) => ({ variant, seed, group: 'x', ewc_lambda, replay_size, R: [], ACC, BWT: -ACC / 10, FWT: 0, acc_vs_single: null, seconds: 1 })),
  });

  it('picks the lambda > 0 of the best mean validation ACC over the seeds every setting ran, the smaller on a tie, and never reads a test report', () => {
    const val = results('validation', [
      ['replay', 1, 0, 64, 0.9], ['replay', 2, 0, 64, 0.9],
      ['EWC + replay, lambda 0.01', 1, 0.01, 64, 0.5], ['EWC + replay, lambda 0.01', 2, 0.01, 64, 0.7],
      ['EWC + replay, lambda 0.1', 1, 0.1, 64, 0.7], ['EWC + replay, lambda 0.1', 2, 0.1, 64, 0.5],
      // seed 3 ran only lambda 1: not in the means, or lambda 1 would win on it
      ['EWC + replay', 1, 1, 64, 0.4], ['EWC + replay', 2, 1, 64, 0.6], ['EWC + replay', 3, 1, 64, 2],
      // other buffer sizes and Fisher scalings are other settings, not lambdas of this one
      ['EWC + replay, size 16', 1, 1, 16, 5], ['EWC + replay, Fisher per tensor, lambda 0.1', 1, 0.1, 64, 5],
    ]);
    const c = chooseLambda(val);
    expect(c.rows.map((r) => [r.lambda, r.seeds])).toEqual([[0, [1, 2]], [0.01, [1, 2]], [0.1, [1, 2]], [1, [1, 2]]]);
    expect(c.rows.map((r) => r.ACC)).toEqual([0.9, 0.6, 0.6, 0.5].map((x) => expect.closeTo(x, 12)));
    // 0.01 and 0.1 tie on ACC 0.6: the smaller lambda; replay (0.9) is reported, not chosen
    expect(c.chosen.lambda).toBe(0.01);
    expect(c.replay?.ACC).toBeCloseTo(0.9, 12);
    expect(() => chooseLambda(results(undefined, [['replay', 1, 0, 64, 1]]))).toThrow(/not scored on validation pairs/);
    expect(() => chooseLambda(results('validation', [['replay', 1, 0, 64, 1]]))).toThrow(/no EWC \+ replay setting/);
  });
});

describe('sizing the GPU continual stage', () => {
  const probe = (name: string, stepMs: number, ewc = 0) => ({ probe: name, step_ms: stepMs, eval_row_s: 2, setup_s: 5, ewc_lambda: ewc, fisher_samples: 32 });
  it('the slowest process sets the steps per task: setup, evaluation rows, Fisher samples and 4 x S stretched steps fit the time', () => {
    // EWC at 100 ms: fixed 5 + 5 x 2 + 4 x 32 x 0.1 + 15 = 42.8 s; (300 - 42.8) / (4 x 1.15 x 0.1) = 559 -> 550
    expect(stepsThatFit([probe('replay', 50), probe('EWC', 100, 1)], 300, 800)).toBe(550);
    // a single-task reference evaluates two rows in all: (300 - 5 - 4 - 15) / 0.46 = 600
    expect(stepsThatFit([probe('single', 100)], 300, 800)).toBe(600);
    expect(stepsThatFit([probe('single', 100)], 300, 200)).toBe(200);
    expect(stepsThatFit([probe('EWC', 100, 1)], 40, 800)).toBe(0);
  });
});
