import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fuseClassical } from '../src/fusion/classical/index.js';
import { convolveSeparable, gaussianKernel, grid } from '../src/fusion/classical/grid.js';
import { makeImage } from '../src/fusion/image.js';
import { qabfPlanes } from '../src/fusion/metrics/vifb.js';
import { refineLuma } from '../src/fusion/pseudo/detail.js';
import { inFocusReference } from '../src/fusion/pseudo/focus.js';
import { Probe } from '../src/fusion/pseudo/probe.js';
import { checkWeights, composite, copyOfSource, greyTriple, pickBest, rawScores, tableMetrics, DEFAULT_WEIGHTS } from '../src/fusion/pseudo/selection.js';
import { candidatePool } from '../src/io/candidates.js';
import { Dataset } from '../src/io/dataset.js';
import { readImage, writePng } from '../src/io/image.js';
import { SeededRng } from '../src/util/rng.js';
import { runPseudoGt } from '../src/cli/pseudo-gt.js';
import { gpu } from './helpers.js';

const W = 64;
const H = 64;

/** Sharp-edged texture (squares and stripes) in [0.2, 0.8]. */
function edges(seed: number): Float32Array {
  const r = new SeededRng(seed);
  const phase = r.next() * 8;
  return Float32Array.from({ length: W * H }, (_, i) => {
    const x = i % W;
    const y = Math.floor(i / W);
    return ((Math.floor((x + phase) / 6) + Math.floor(y / 9)) % 2 ? 0.65 : 0.35) + 0.15 * Math.sign(Math.sin(x / 3.1 + y / 7));
  });
}

function smooth(seed: number): Float32Array {
  return Float32Array.from({ length: W * H }, (_, i) => 0.5 + 0.3 * Math.sin((i % W) / 17 + seed) * Math.cos(Math.floor(i / W) / 23));
}

const blur = (d: Float32Array, sigma: number) => convolveSeparable(grid(W, H, d), gaussianKernel(Math.ceil(3 * sigma), sigma)).d;
const to255 = (d: Float32Array) => Float64Array.from(d, (v) => Math.round(v * 255));
const grey = (d: Float32Array) => makeImage(W, H, [d]);

describe('stage 1: task-aware selection', () => {
  it('picks the known-best candidate of a constructed pool, and the scores explain it', async () => {
    // the bundled infrared-visible sample; candidates of known ordering built from it
    const a = await readImage('samples/ivf-VIFB/carWhite_a.jpg');
    const b = await readImage('samples/ivf-VIFB/carWhite_b.jpg');
    const best = fuseClassical('gff', a, b);
    const w = a.width;
    const h = a.height;
    const blurred = makeImage(w, h, best.planes.map((p) => convolveSeparable(grid(w, h, p), gaussianKernel(6, 2)).d));
    const onlyB = makeImage(w, h, b.planes.map((p) => p.slice()));
    const r = new SeededRng(9);
    const avg = fuseClassical('average', a, b);
    const noisy = makeImage(w, h, avg.planes.map((p) => p.map((v) => Math.min(1, Math.max(0, v + 0.2 * (r.next() - 0.5))))));
    const metrics = tableMetrics(DEFAULT_WEIGHTS.ivf);
    // a copy of one source beats every real fusion on the sums over sources: it is left out
    expect(copyOfSource(greyTriple(a, b, onlyB))).toMatch(/copy of source B/);
    expect(copyOfSource(greyTriple(a, b, best))).toBeNull();
    const pool = [['blurred', blurred], ['gff', best], ['noisy', noisy]] as const;
    const scored = composite(pool.map(([name, img]) => ({ name, raw: rawScores(greyTriple(a, b, img), metrics) })), metrics, DEFAULT_WEIGHTS.ivf);
    expect(pickBest(scored).name).toBe('gff');
    for (const s of scored) for (const v of s.normalised) expect(v).toBeGreaterThanOrEqual(0);
  });

  it('breaks ties by name and counts NaN as the worst value, deterministically', () => {
    const m = ['Qabf', 'SD'];
    const w = { Qabf: 1, SD: 1 };
    const s = composite([{ name: 'zeta', raw: [0.5, 10] }, { name: 'alpha', raw: [0.5, 10] }, { name: 'nan', raw: [NaN, 10] }], m, w);
    expect(pickBest(s).name).toBe('alpha');
    expect(s.find((x) => x.name === 'nan')!.normalised[0]).toBe(0);
    expect(() => pickBest([])).toThrow(/pool is empty/);
  });

  it('rejects a weight table naming unknown tasks, metrics or bad weights', () => {
    expect(() => checkWeights({ ivf: { VIF: 1, Foo: 2 } }, 'w.json')).toThrow(/w\.json: unknown metric 'Foo'/);
    expect(() => checkWeights({ xyz: { VIF: 1 } }, 'w.json')).toThrow(/task must be one of/);
    expect(() => checkWeights({ mef: { EN: -1 } }, 'w.json')).toThrow(/non-negative/);
    expect(checkWeights({ mef: { EN: 2 } }, 'w.json').mef).toEqual({ EN: 2 });
  });

  it('the in-focus reference takes the sharp half of a multi-focus pair', () => {
    const sharp = edges(3);
    const a = sharp.map((v, i) => (i % W < W / 2 ? v : 0));
    const b = sharp.map((v, i) => (i % W >= W / 2 ? v : 0));
    const blurredA = blur(sharp, 2.5).map((v, i) => (i % W < W / 2 ? a[i]! : v));
    const blurredB = blur(sharp, 2.5).map((v, i) => (i % W >= W / 2 ? b[i]! : v));
    const ref = inFocusReference(to255(blurredA), to255(blurredB), W, H);
    const want = to255(sharp);
    let wrong = 0;
    for (let y = 0; y < H; y++) for (let x = 8; x < W - 8; x++) if (Math.abs(x - W / 2) > 8 && ref[y * W + x] !== want[y * W + x]) wrong++;
    expect(wrong / (H * (W - 32))).toBeLessThan(0.02);
  });

  it('reports missing and mis-sized candidate files per file, and an empty pool is an error', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ffm-pool-'));
    const dir = join(root, 'ivf', 'Toy');
    for (const d of ['a', 'b', 'candidates/good', 'candidates/bad']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'pairs.csv'), 'name,a,b\np1,a/p1.png,b/p1.png\np2,a/p2.png,b/p2.png\n');
    for (const p of ['p1', 'p2']) {
      writePng(join(dir, 'a', `${p}.png`), grey(edges(1)));
      writePng(join(dir, 'b', `${p}.png`), grey(smooth(1)));
      writePng(join(dir, 'candidates', 'good', `${p}.png`), grey(smooth(3)));
    }
    writePng(join(dir, 'candidates', 'bad', 'p1.png'), makeImage(32, 32, [new Float32Array(32 * 32)]));
    const ds = new Dataset(dir, root);
    const pool = candidatePool(ds, { published: true, classical: false, folders: [] });
    const a = await readImage(join(dir, 'a', 'p1.png'));
    const bad = pool.find((c) => c.name === 'bad')!;
    expect(await bad.load('p1', a, a)).toEqual({ skip: expect.stringMatching(/bad\/p1\.png: 32x32, the pair is 64x64/) });
    expect(await bad.load('p2', a, a)).toEqual({ skip: expect.stringMatching(/bad\/p2\.\*: missing/) });
    expect(() => candidatePool(ds, { published: false, classical: false, folders: [] })).toThrow(/candidate pool is empty/);
  });
});

describe('fusionfm pseudo-gt', () => {
  it('runs both stages on a toy dataset: labels, scores, skipped files, report; refuses to overwrite', async () => {
    await gpu();
    const root = mkdtempSync(join(tmpdir(), 'ffm-pgt-'));
    const dir = join(root, 'ivf', 'Toy');
    for (const d of ['a', 'b', 'candidates/blurry', 'candidates/short']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'pairs.csv'), 'name,a,b\np1,a/p1.png,b/p1.png\np2,a/p2.png,b/p2.png\n');
    writeFileSync(join(root, 'splits.json'), JSON.stringify({ splits: { 'ivf/Toy': { train: ['p1', 'p2'], test: [] } } }));
    for (const [i, p] of ['p1', 'p2'].entries()) {
      const a = grey(edges(i + 1));
      const b = grey(smooth(i + 1));
      writePng(join(dir, 'a', `${p}.png`), a);
      writePng(join(dir, 'b', `${p}.png`), b);
      writePng(join(dir, 'candidates', 'blurry', `${p}.png`), grey(blur(fuseClassical('average', a, b).planes[0]!, 2)));
    }
    writePng(join(dir, 'candidates', 'short', 'p1.png'), grey(smooth(9)));
    const out = join(root, 'labels');
    const saved = process.env.FUSIONFM_DATA;
    process.env.FUSIONFM_DATA = root;
    onTestFinished(() => {
      if (saved === undefined) delete process.env.FUSIONFM_DATA;
      else process.env.FUSIONFM_DATA = saved;
    });
    const o = {
      task: 'ivf' as const, data: 'ivf/Toy', split: 'train' as const, out, pool: { published: true, classical: true, folders: [] },
      weights: DEFAULT_WEIGHTS, refine: { c: 0.7, alpha: 1 }, probe: { steps: 4, batch: 2, crop: 32, lr: 1e-3, seed: 1 }, overwrite: false, command: 'test',
    };
    const s = await runPseudoGt(o, () => {});
    expect(s.pairs).toBe(2);
    expect(s.composite.refined).toBeTypeOf('number');
    for (const f of ['p1.png', 'p2.png', 'stage1/p1.png', 'top2avg/p2.png', 'scores.csv', 'skipped.csv', 'evaluation.csv', 'report.html', 'summary.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const scores = readFileSync(join(out, 'scores.csv'), 'utf8').trim().split('\n');
    expect(scores.filter((l) => l.endsWith(',1'))).toHaveLength(2); // one chosen per pair
    expect(readFileSync(join(out, 'skipped.csv'), 'utf8')).toMatch(/p2,short,.*short\/p2\.\*: missing/);
    await expect(runPseudoGt(o, () => {})).rejects.toThrow(/already holds pseudo labels/);
    // --stage1-method: one named candidate is stage 1 on every pair, whatever scores best
    const one = { ...o, overwrite: true, refine: null, stage1Method: 'classical:average' };
    await runPseudoGt(one, () => {});
    const chosen = readFileSync(join(out, 'scores.csv'), 'utf8').trim().split('\n').filter((l) => l.endsWith(',1'));
    expect(chosen.map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['p1,classical:average', 'p2,classical:average']);
    const avg = fuseClassical('average', await readImage(join(dir, 'a', 'p2.png')), await readImage(join(dir, 'b', 'p2.png')));
    const label = await readImage(join(out, 'p2.png'));
    expect(Math.max(...label.planes[0]!.map((v, i) => Math.abs(v - avg.planes[0]![i]!)))).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    // a method missing for a pair is refused, naming the pair
    await expect(runPseudoGt({ ...one, stage1Method: 'short' }, () => {})).rejects.toThrow(/--stage1-method short: no such candidate for ivf\/Toy pair 'p2'/);
  }, 120_000);
});

describe('stage 2: the Fusion Refiner', () => {
  it('the protection mask leaves a perfect label unchanged', () => {
    // a label that carries all of both sources' structure: each source is the label itself
    const f = edges(5);
    const res = refineLuma(f, f, f, blur(f, 1), blur(f, 1), W, H, { c: 0.7, alpha: 2 });
    expect(res.mask.every((m) => m === 0)).toBe(true);
    expect(Array.from(res.y)).toEqual(Array.from(f));
  });

  it("restores the edges of a source that the label lost (Qabf against that source rises)", () => {
    const a = edges(7);
    const b = smooth(8);
    // the label kept B and only a blurred A: A's edges are lost
    const f = a.map((_, i) => 0.5 * blur(a, 2.5)[i]! + 0.5 * b[i]!);
    // ideal probes: what the label still carries of each source
    const pa = blur(a, 2.5);
    const pb = b;
    const res = refineLuma(f, a, b, pa, pb, W, H, { c: 0.7, alpha: 1 });
    const q = (x: Float32Array) => qabfPlanes(to255(a), to255(a), to255(x), W, H, 1);
    expect(q(res.y)).toBeGreaterThan(q(f) + 0.1);
    expect(res.mask.some((m) => m > 0)).toBe(true);
    // detail came from A, where A has it
    const meanWA = res.weightA.reduce((s, v) => s + v, 0) / res.weightA.length;
    expect(meanWA).toBeGreaterThan(0.8);
  });

  it('a probe trained on the engine learns a contrast mapping F -> S (loss falls well below the identity)', async () => {
    await gpu();
    const f = edges(11);
    const target = f.map((v) => 1 - v); // inverted contrast: the identity is the worst start
    const probe = new Probe('test', { steps: 60, batch: 4, crop: 32, lr: 5e-3, seed: 3 });
    try {
      const identityLoss = f.reduce((s, v, i) => s + (v - target[i]!) ** 2, 0) / f.length;
      const final = await probe.train([{ w: W, h: H, input: f, target }]);
      expect(final).toBeLessThan(identityLoss / 10);
      const out = await probe.apply(f.subarray(0, 50 * 30), 50, 30); // odd size: padded and cropped back
      expect(out.length).toBe(50 * 30);
      expect(out.every(Number.isFinite)).toBe(true);
    } finally {
      probe.dispose();
    }
  }, 120_000);
});

describe('ranking among a sub-pool (the published methods alone)', () => {
  it('scores members and results on the sub-pool own bounds per pair, averages over the pairs each was scored on, and ranks', async () => {
    const { rankInSubPool } = await import('../src/fusion/pseudo/pool-ranking.js');
    const pairs = [
      { pool: [{ name: 'P1', raw: [10, 5] }, { name: 'P2', raw: [20, 7] }, { name: 'P3', raw: [30, 6] }, { name: 'classical:max', raw: [100, 100] }], results: { R: [26, 6.5] } },
      // P2 has no result for this pair; a NaN read back from JSON is null and counts as the worst
      { pool: [{ name: 'P1', raw: [1, null] }, { name: 'P3', raw: [3, 3] }, { name: 'classical:max', raw: [0, 0] }], results: { R: [2, 2] } },
    ];
    const r = rankInSubPool(pairs, (n) => !n.startsWith('classical:'), ['SD', 'EN'], { SD: 1, EN: 1 });
    // pair 1: SD in [10, 30], EN in [5, 7] -> P1 0, P2 0.75, P3 0.75, R (0.8 + 0.75) / 2
    // pair 2: SD in [1, 3], EN in [3, 3] (P1's EN is missing: one value, so EN gives 0.5, and P1's
    // missing EN counts 0) -> P1 0, P3 (1 + 0.5) / 2, R (0.5 + 0.5) / 2
    const near = (x: number) => expect.closeTo(x, 12);
    expect(r.members).toEqual([
      { name: 'P2', composite: near(0.75), pairs: 1 },
      { name: 'P3', composite: near(0.75), pairs: 2 },
      { name: 'P1', composite: near(0), pairs: 2 },
    ]);
    expect(r.results).toEqual([{ name: 'R', composite: near((0.775 + 0.5) / 2), rank: 3, of: 3 }]);
  });
});
