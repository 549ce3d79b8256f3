import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { benchBounds, engineRecords, runBench } from '../src/cli/bench.js';
import { fuseClassical } from '../src/fusion/classical/index.js';
import { makeImage } from '../src/fusion/image.js';
import { VelocityNet } from '../src/fusion/flow/model.js';
import { saveFlowModel } from '../src/io/flow-checkpoint.js';
import { writePng } from '../src/io/image.js';
import { withInitSeed } from '../src/nn/module.js';
import { tensor } from '../src/autograd/create.js';
import { affine, sub } from '../src/autograd/ops.js';
import type { Tensor } from '../src/autograd/tensor.js';
import { ddimSample, ddimTimesteps } from '../src/fusion/diffusion/ddim.js';
import { alphaBars, DDPM_STEPS } from '../src/fusion/diffusion/ddpm.js';
import { FlowTrainer, DEFAULT_TRAIN, type Triple } from '../src/fusion/flow/trainer.js';
import { gpu, randomArray } from './helpers.js';

describe('diffusion baseline (DDPM + DDIM)', () => {
  it('schedule: alpha-bar falls from 1 - 1e-4 to about 4e-5 over 1000 steps; DDIM visits S evenly spaced steps from T-1 down', () => {
    const ab = alphaBars();
    expect(ab.length).toBe(DDPM_STEPS);
    expect(ab[0]).toBeCloseTo(1 - 1e-4, 12);
    for (let t = 1; t < ab.length; t++) expect(ab[t]!).toBeLessThan(ab[t - 1]!);
    expect(ab[999]!).toBeGreaterThan(3e-5);
    expect(ab[999]!).toBeLessThan(5e-5);
    expect(ddimTimesteps(1)).toEqual([999]);
    expect(ddimTimesteps(4)).toEqual([999, 749, 499, 249]);
    expect(ddimTimesteps(1000).slice(-2)).toEqual([1, 0]);
    expect(() => ddimTimesteps(0)).toThrow(/DDIM steps/);
  });

  it('DDIM with an exact noise predictor returns the clean image for any number of steps', async () => {
    await gpu();
    const n = 16 * 16;
    const clean = Float32Array.from(randomArray(n, 3), (v) => 0.5 + 0.4 * v); // in [0.1, 0.9]
    const ab = alphaBars();
    // the exact noise of x_t given the clean image: eps = (x - sqrt(ab) x0) / sqrt(1 - ab)
    const oracle = {
      forward(x: Tensor, _a: Tensor, _b: Tensor, t: readonly number[]) {
        const a = ab[Math.round(t[0]! * DDPM_STEPS)]!;
        const x0 = tensor(Float32Array.from(clean, (v) => 2 * v - 1), [1, 1, 16, 16]);
        return affine(sub(x, affine(x0, Math.sqrt(a), 0)), 1 / Math.sqrt(1 - a), 0);
      },
    } as unknown as VelocityNet;
    const src = tensor(new Float32Array(n), [1, 1, 16, 16]);
    for (const steps of [1, 3, 10]) {
      const out = ddimSample(oracle, src, src, steps, 7);
      const got = await out.data();
      out.dispose();
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - clean[i]!));
      expect(worst, `S = ${steps}`).toBeLessThan(1e-3);
    }
  });

  it('the trainer learns the noise-prediction objective on the same network (loss falls)', async () => {
    await gpu();
    const S = 16;
    const tex = (seed: number) => Float32Array.from(randomArray(4 * S * S, seed), (v) => 0.5 + 0.3 * v);
    const a = tex(1);
    const b = tex(2);
    const data: Triple[] = [{ name: 'toy', w: 2 * S, h: 2 * S, a, b, label: a.map((v, i) => Math.max(v, b[i]!)) }];
    const tr = new FlowTrainer({ ...DEFAULT_TRAIN, model: { ...DEFAULT_TRAIN.model, baseChannels: 8, groups: 4, heads: 2, timeDim: 16 }, objective: 'ddpm', batch: 4, crop: S, steps: 60, warmup: 5, lr: 2e-3 }, data);
    for (let i = 0; i < 60; i++) await tr.trainStep();
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    // noise prediction starts near 1 (predicting 0 for unit noise) and must fall well below it
    expect(mean(tr.losses.slice(0, 5))).toBeGreaterThan(0.5);
    expect(mean(tr.losses.slice(-10))).toBeLessThan(0.6 * mean(tr.losses.slice(0, 5)));
    tr.dispose();
  }, 180_000);
});

describe('fusionfm bench (FusionFM vs the diffusion baseline)', () => {
  it('a tiny run writes the JSON and an HTML report with the plot, table and speedup; a flow model is refused as the baseline', async () => {
    await gpu();
    const root = mkdtempSync(join(tmpdir(), 'ffm-bench-'));
    const dir = join(root, 'ivf', 'Toy');
    for (const d of ['a', 'b', 'candidates/avg']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'pairs.csv'), 'name,a,b\np1,a/p1.png,b/p1.png\n');
    writeFileSync(join(root, 'splits.json'), JSON.stringify({ splits: { 'ivf/Toy': { train: [], test: ['p1'] } } }));
    const S = 32;
    const img = (seed: number) => makeImage(S, S, [Float32Array.from(randomArray(S * S, seed), (v) => 0.5 + 0.4 * v)]);
    const a = img(1);
    const b = img(2);
    writePng(join(dir, 'a', 'p1.png'), a);
    writePng(join(dir, 'b', 'p1.png'), b);
    writePng(join(dir, 'candidates', 'avg', 'p1.png'), fuseClassical('average', a, b));
    // two untrained tiny nets of the same configuration, saved as a flow model and a ddpm model
    const config = { ...DEFAULT_TRAIN.model, baseChannels: 8, channelMults: [1, 2], groups: 4, heads: 2, timeDim: 8 };
    const save = (path: string, objective: 'flow' | 'ddpm') => {
      const net = withInitSeed(objective === 'flow' ? 1 : 2, () => new VelocityNet(config));
      return Promise.all(net.namedParameters().map(async ([n, p]) => [n, { shape: [...p.shape], data: await p.data() }] as const))
        .then((w) => { saveFlowModel(path, new Map(w), { tasks: ['ivf'], config, coupling: 'sum', objective, provenance: {} }); net.dispose(); });
    };
    await save(join(root, 'flow.safetensors'), 'flow');
    await save(join(root, 'ddpm.safetensors'), 'ddpm');
    const saved = process.env.FUSIONFM_DATA;
    process.env.FUSIONFM_DATA = root;
    onTestFinished(() => {
      if (saved === undefined) delete process.env.FUSIONFM_DATA;
      else process.env.FUSIONFM_DATA = saved;
    });
    const out = join(root, 'report');
    const o = { task: 'ivf' as const, data: 'ivf/Toy', flow: join(root, 'flow.safetensors'), ddpm: join(root, 'ddpm.safetensors'), flowSteps: [1, 2], ddimSteps: [1, 3],
      pairs: 0, crop: 32, sizes: [[32, 32]] as [number, number][], rounds: 1, out, command: 'test' };
    const r = await runBench(o, () => {});
    expect(r.rows.map((x) => x.name)).toEqual(['FusionFM k=1', 'FusionFM k=2', 'DDIM S=1', 'DDIM S=3']);
    for (const row of r.rows) {
      expect(Number.isFinite(row.composite), row.name).toBe(true);
      expect(row.ms['32x32']!).toBeGreaterThan(0);
    }
    expect(r.speedup).toHaveLength(1);
    expect(r.speedup[0]!.ratio).toBeCloseTo(r.speedup[0]!.ddim_ms / r.speedup[0]!.fusionfm_ms, 2);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('DDIM S=3');
    expect(html).toContain(r.adapter);
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).rows).toHaveLength(4);
    await expect(runBench({ ...o, ddpm: o.flow }, () => {})).rejects.toThrow(/a flow model, expected a diffusion baseline/);
    // a bounds cache scores on the same scale where the candidate folders are absent (a GPU machine)
    const cache = join(root, 'bounds.json');
    await benchBounds({ ...o, boundsCache: cache });
    rmSync(join(dir, 'candidates'), { recursive: true });
    const again = await runBench({ ...o, flowSteps: [1], ddimSteps: [1], out: join(root, 'again'), boundsCache: cache }, () => {});
    expect(again.rows[0]!.composite).toBeCloseTo(r.rows[0]!.composite, 5);
    expect(again.rows[1]!.composite).toBeCloseTo(r.rows[2]!.composite, 5);
    expect(again.composite_definition).toContain(`read from ${cache}`);
    // without cache and published results the scale is the classical fusers', and the report says so
    expect(r.composite_definition).toContain('1 published methods');
    const none = await runBench({ ...o, flowSteps: [1], ddimSteps: [1], out: join(root, 'none') }, () => {});
    expect(none.composite_definition).toMatch(/\(0 published methods \+ \d+ classical fusers\)/);
  }, 180_000);
});

describe('engine figures in the bench report', () => {
  it('gathers the kernel bench (bare array) and the peer benches ({ commit, records }) of this adapter only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffm-engine-'));
    const rec = (impl: string, extra: object = {}) => ({ case: 'unet forward', impl, median_ms: 10, runs: 3, ...extra });
    writeFileSync(join(dir, 'kernels-gpu-a.json'), JSON.stringify([rec('fusionfm', { adapter: 'GPU A', gflops: 5 }), rec('tfjs-webgpu', { adapter: 'GPU A' })]));
    writeFileSync(join(dir, 'torch-peer-gpu-a.json'), JSON.stringify({ commit: 'abc1234', records: [rec('pytorch 2', { device: 'cpu (2 threads)' })] }));
    writeFileSync(join(dir, 'cpu-peers-gpu-b.json'), JSON.stringify({ commit: 'x', records: [rec('tfjs-wasm')] }));
    const rows = engineRecords(dir, 'GPU A', 'gpu-a');
    expect(rows.map((r) => [r.impl, r.device, r.commit])).toEqual([['fusionfm', 'GPU A', '-'], ['tfjs-webgpu', 'GPU A', '-'], ['pytorch 2', 'cpu (2 threads)', 'abc1234']]);
    expect(rows[0]!.gflops).toBe(5);
    expect(engineRecords(dir, 'GPU C', 'gpu-c')).toEqual([]);
  });
});
