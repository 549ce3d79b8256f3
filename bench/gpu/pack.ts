/**
 * Packs the data a GPU machine needs for the training benchmarks into one small folder (the
 * device tool carries at most 64 MiB, and ../shared does not travel): the shared datasets'
 * pairs in FUSIONFM_DATA layout and the pseudo labels, as 8-bit luminance. Training and the
 * benches only ever use luminance (Y), so this loses nothing but the 1/255 rounding of Y;
 * JPEG sources are copied byte for byte (they are smaller than any re-encoding).
 *
 *   node dist/bench/gpu/pack.js [--labels runs/labels] [--test-labels runs/labels-test] [--out .gpudata]
 * Test pairs are packed for VIFB only (the IVF bench fuses them; the continual bench carries
 * its own evaluation crops, see --eval-cache there).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { benchArgs } from '../args.js';
import { luminance } from '../../src/fusion/colour.js';
import { makeImage } from '../../src/fusion/image.js';
import { Dataset, dataRoot, DEFAULT_DATASETS } from '../../src/io/dataset.js';
import { readImage, writePng } from '../../src/io/image.js';

const { values } = benchArgs(import.meta.url, { options: {
  labels: { type: 'string', default: 'runs/labels' }, 'test-labels': { type: 'string', default: 'runs/labels-test' }, out: { type: 'string', default: '.gpudata' },
} });
const out = values.out!;
const grey = async (src: string, dst: string) => {
  const img = await readImage(src);
  mkdirSync(dirname(dst), { recursive: true });
  writePng(dst, makeImage(img.width, img.height, [luminance(img)]), { overwrite: true });
};
const withTestPairs = new Set(['ivf/VIFB']);
for (const id of Object.values(DEFAULT_DATASETS).flat()) {
  const ds = new Dataset(id);
  const pairs = withTestPairs.has(id) ? ds.split('all') : ds.split('train');
  const rows = ['name,a,b'];
  for (const p of pairs) {
    const files: string[] = [];
    for (const side of ['a', 'b'] as const) {
      const src = join(ds.dir, p[side]);
      const dst = src.endsWith('.jpg') ? `${side}/${p.name}.jpg` : `${side}/${p.name}.png`;
      mkdirSync(join(out, 'data', id, side), { recursive: true });
      if (dst.endsWith('.jpg')) copyFileSync(src, join(out, 'data', id, dst));
      else await grey(src, join(out, 'data', id, dst));
      files.push(dst);
    }
    rows.push(`${p.name},${files.join(',')}`);
    const label = join(values.labels!, id, `${p.name}.png`);
    if (ds.split('train').some((q) => q.name === p.name)) {
      if (!existsSync(label)) throw new Error(`${label}: missing pseudo label (run bash bench/eval/pseudo-gt.sh first)`);
      await grey(label, join(out, 'labels', id, `${p.name}.png`));
    } else {
      const test = join(values['test-labels']!, id, `${p.name}.png`);
      if (existsSync(test)) await grey(test, join(out, 'labels-test', id, `${p.name}.png`));
    }
  }
  writeFileSync(join(out, 'data', id, 'pairs.csv'), rows.join('\n') + '\n');
  console.error(`${id}: ${pairs.length} pairs`);
}
writeFileSync(join(out, 'data', 'splits.json'), readFileSync(join(dataRoot(), 'splits.json')));
