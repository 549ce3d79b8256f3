import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEval } from '../src/cli/eval.js';
import { copyCrop, randomAlignedCrop, type CropSpec } from '../src/fusion/augment.js';
import { makeImage } from '../src/fusion/image.js';
import { Dataset, hasData, heldOutIndices } from '../src/io/dataset.js';
import { loadTriples } from '../src/cli/train.js';
import { SeededRng } from '../src/util/rng.js';
import { silent } from '../src/util/progress.js';

/** A two-pair dataset in a temp folder, built from the bundled MRI-CT sample, with a candidate folder. */
function tinyDataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ffm-ds-'));
  for (const d of ['a', 'b', 'candidates/avgA']) mkdirSync(join(dir, d), { recursive: true });
  for (const n of ['p1', 'p2']) {
    cpSync('samples/mif-MRI-CT/13_a.png', join(dir, 'a', `${n}.png`));
    cpSync('samples/mif-MRI-CT/13_b.png', join(dir, 'b', `${n}.png`));
    cpSync('samples/mif-MRI-CT/13_a.png', join(dir, 'candidates/avgA', `${n}.png`));
  }
  writeFileSync(join(dir, 'pairs.csv'), 'name,a,b\np1,a/p1.png,b/p1.png\np2,a/p2.png,b/p2.png\n');
  return dir;
}

describe('datasets', () => {
  it('reads pairs and candidates, and names the pair and both sizes on a mismatch', async () => {
    const dir = tinyDataset();
    const ds = new Dataset(dir);
    expect(ds.pairs.map((p) => p.name)).toEqual(['p1', 'p2']);
    expect(ds.methods()).toEqual(['avgA']);
    cpSync('samples/ivf-VIFB/carWhite_a.jpg', join(dir, 'b', 'p2.jpg'));
    writeFileSync(join(dir, 'pairs.csv'), 'name,a,b\np1,a/p1.png,b/p1.png\np2,a/p2.png,b/p2.jpg\n');
    const ds2 = new Dataset(dir);
    await expect(ds2.readPair(ds2.pair('p2'))).rejects.toThrow(/pair 'p2': a\/p2.png is 256x256 but b\/p2.jpg is 448x324/);
    expect(() => new Dataset(join(dir, 'a'))).toThrow(/no pairs.csv/);
  });
  it.skipIf(!hasData())('reads the shared data splits (skipped: ../shared/data absent)', () => {
    const ds = new Dataset('ivf/VIFB');
    const test = ds.split('test');
    const train = ds.split('train');
    expect(test.length + train.length).toBe(21);
    expect(test.some((p) => train.includes(p))).toBe(false);
  });
  it('holds validation pairs out of training at evenly spaced positions, and refuses to hold out all', async () => {
    expect([...heldOutIndices(14, 2)]).toEqual([3, 10]);
    expect([...heldOutIndices(5, 0)]).toEqual([]);
    expect(() => heldOutIndices(2, 2, '--hold-out')).toThrow(/--hold-out: 2 pairs held out of 2 leaves none/);
    expect(() => heldOutIndices(9, 1.5)).toThrow(/whole number/);
    const ds = new Dataset(tinyDataset());
    const { train, held } = ds.trainHoldOut(1);
    expect(held.map((p) => p.name)).toEqual(['p2']);
    expect(train.map((p) => p.name)).toEqual(['p1']);
    expect(ds.trainHoldOut(0).train.map((p) => p.name)).toEqual(['p1', 'p2']);
    // training reads the rest and names what it held out (the model file's provenance records it)
    const loaded = await loadTriples({ data: ds.id, labels: 'classical:average', holdOut: 1 });
    expect(loaded.triples.map((t) => t.name)).toEqual([`${ds.id}/p1`]);
    expect(loaded.heldOut).toEqual([`${ds.id}/p2`]);
  });
  it('seeded aligned crops: same seed same crop, all images cropped alike', () => {
    const w = 10;
    const img = makeImage(w, 8, [Float32Array.from({ length: 80 }, (_, i) => i / 80)]);
    const twin = makeImage(w, 8, [Float32Array.from({ length: 80 }, (_, i) => i / 80)]);
    const [c1, c2] = randomAlignedCrop([img, twin], 4, new SeededRng(5));
    const [d1] = randomAlignedCrop([img, twin], 4, new SeededRng(5));
    expect(Array.from(c1!.planes[0]!)).toEqual(Array.from(c2!.planes[0]!));
    expect(Array.from(c1!.planes[0]!)).toEqual(Array.from(d1!.planes[0]!));
    expect(() => randomAlignedCrop([img], 12, new SeededRng(1))).toThrow(/10x8 is smaller than the 12x12 training crop/);
  });

  it('copyCrop: every flip combination equals a pixel-by-pixel reference, written at the given offset', () => {
    const w = 9, h = 7;
    const plane = Float32Array.from({ length: w * h }, (_, i) => i);
    for (const flipH of [false, true]) for (const flipV of [false, true]) {
      const c: CropSpec = { x: 3, y: 2, size: 4, flipH, flipV };
      const out = new Float32Array(5 + 16).fill(-1);
      copyCrop(plane, w, c, out, 5);
      const want: number[] = [];
      for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) want.push((2 + (flipV ? 3 - y : y)) * w + 3 + (flipH ? 3 - x : x));
      expect(Array.from(out.subarray(5))).toEqual(want);
      expect(Array.from(out.subarray(0, 5))).toEqual([-1, -1, -1, -1, -1]);
    }
  });
});

describe('fusionfm eval', () => {
  it('writes per-image and mean tables and an HTML report', async () => {
    const dir = tinyDataset();
    const out = join(dir, 'out');
    const r = await runEval({ data: dir, split: 'all', methods: ['avgA', 'classical:average'], metrics: ['EN', 'SSIM', 'Qabf'], out }, silent);
    expect(r.means.map((m) => m.method)).toEqual(['avgA', 'classical:average']);
    const per = readFileSync(join(out, 'per_image.csv'), 'utf8').trim().split('\n');
    // a folder outside the shared layout gets the VIFB convention for bare names
    expect(per[0]).toBe('pair,method,EN@vifb,SSIM@vifb,Qabf@vifb');
    expect(per.length).toBe(5);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<img src="data:image/jpeg;base64,');
    expect(html).toContain('classical:average');
  });
  it('fails on a missing result, an empty folder or a corrupt file and leaves no report behind', async () => {
    const dir = tinyDataset();
    const out = join(dir, 'out');
    writeFileSync(join(dir, 'candidates/avgA/p2.png'), 'not a png');
    await expect(runEval({ data: dir, split: 'all', methods: ['avgA'], metrics: ['EN'], out }, silent)).rejects.toThrow(/avgA\/p2.png: unsupported image format/);
    expect(existsSync(join(out, 'report.html'))).toBe(false);
    expect(existsSync(join(out, 'mean.csv'))).toBe(false);
    mkdirSync(join(dir, 'empty'));
    await expect(runEval({ data: dir, split: 'all', methods: [`mine=${join(dir, 'empty')}`], metrics: ['EN'], out }, silent)).rejects.toThrow(/folder .*empty is empty/);
    mkdirSync(join(dir, 'partial'));
    cpSync('samples/mif-MRI-CT/13_a.png', join(dir, 'partial', 'p1.png'));
    await expect(runEval({ data: dir, split: 'all', methods: [`mine=${join(dir, 'partial')}`], metrics: ['EN'], out }, silent)).rejects.toThrow(/no fused image for pair 'p2'/);
    expect(existsSync(join(out, 'per_image.csv'))).toBe(false);
  });
});
