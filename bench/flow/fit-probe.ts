/**
 * How closely a model reproduces its labels, on the crops it was trained on and at inference
 * tile sizes: per pair, the luminance offset (fused minus label, grey levels) and PSNR against
 * the label, (1) on six fixed 64 px crops fused alone in one piece (what training sees) and (2)
 * on the whole image fused in tiles of each --sides (net input side, margin included; 176 is
 * about the default portable tile). A model that fits crops but loses the fit on larger tiles
 * has learned something that depends on the input's size (GroupNorm statistics, attention over
 * more tokens); one that fits neither underfits, or its labels disagree from pair to pair.
 *
 *   node dist/bench/flow/fit-probe.js --checkpoint <model> --task mef --data mef/MEFB --labels runs/labels/mef/MEFB [--sides 80,112,176] [--pairs Chair,Tower] [--out file.json]
 */
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { luminance } from '../../src/fusion/colour.js';
import { fuseLuminance } from '../../src/fusion/flow/fuse.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { Dataset } from '../../src/io/dataset.js';
import { loadFlowModel } from '../../src/io/flow-checkpoint.js';
import { readImage } from '../../src/io/image.js';
import { benchProvenance, writeBenchReport } from '../engine/report.js';

const { values } = benchArgs(import.meta.url, { options: {
  checkpoint: { type: 'string' }, task: { type: 'string' }, data: { type: 'string' }, labels: { type: 'string' },
  sides: { type: 'string', default: '80,112,176' }, pairs: { type: 'string' }, out: { type: 'string' },
} });
if (!values.checkpoint || !values.task || !values.data || !values.labels) throw new Error('fit-probe: --checkpoint, --task, --data and --labels are required');
const rt = await getNodeRuntime();
useRuntime(rt);
const provenance = benchProvenance('fit-probe', rt.adapter.name);
const { net } = loadFlowModel(values.checkpoint);
const ds = new Dataset(values.data);
const wanted = values.pairs?.split(',');
const pairs = wanted ? ds.pairs.filter((p) => wanted.includes(p.name)) : ds.pairs;
const sides = values.sides.split(',').map(Number);
const CROP = 64;

function fit(f: Float32Array, label: Float32Array): { offset: number; psnr: number } {
  let s = 0;
  let d = 0;
  for (let i = 0; i < f.length; i++) {
    s += f[i]! - label[i]!;
    d += (f[i]! - label[i]!) ** 2;
  }
  return { offset: Number(((255 * s) / f.length).toFixed(2)), psnr: Number((10 * Math.log10(f.length / d)).toFixed(2)) };
}
function window(x: Float32Array, w: number, x0: number, y0: number, side: number): Float32Array {
  const o = new Float32Array(side * side);
  for (let y = 0; y < side; y++) o.set(x.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + side), y * side);
  return o;
}

const records: object[] = [];
for (const p of pairs) {
  let label;
  try {
    label = await readImage(`${values.labels}/${p.name}.png`);
  } catch {
    continue; // pairs without a label (the other split) are not probed
  }
  const { a: A, b: B } = await ds.readPair(p);
  const [a, b, l] = [luminance(A), luminance(B), luminance(label)];
  const { width: w, height: h } = A;
  const crops: { offset: number; psnr: number }[] = [];
  for (let k = 0; k < 6; k++) {
    // fixed, spread-out positions (the same for every model)
    const x0 = Math.floor(((k * 0.37 + 0.11) % 1) * (w - CROP));
    const y0 = Math.floor(((k * 0.61 + 0.23) % 1) * (h - CROP));
    const [ca, cb, cl] = [a, b, l].map((x) => window(x, w, x0, y0, CROP)) as [Float32Array, Float32Array, Float32Array];
    crops.push(fit(await fuseLuminance(net, ca, cb, CROP, CROP, { steps: 1, task: values.task, tiles: 'whole', margin: 0 }), cl));
  }
  const mean = (k: 'offset' | 'psnr', abs = false) => Number((crops.reduce((s, c) => s + (abs ? Math.abs(c[k]) : c[k]), 0) / crops.length).toFixed(2));
  const tiles: Record<string, { offset: number; psnr: number }> = {};
  for (const side of sides) {
    tiles[side] = fit(await fuseLuminance(net, a, b, w, h, { steps: 1, task: values.task, maxTilePixels: side * side, overlap: Math.min(32, side / 4) }), l);
  }
  const r = { pair: p.name, size: `${w}x${h}`, crops64: { mean_abs_offset: mean('offset', true), psnr: mean('psnr') }, tiles };
  console.log(`${p.name} ${r.size}: 64 px crops |offset| ${r.crops64.mean_abs_offset} PSNR ${r.crops64.psnr} | ${sides.map((s) => `tiles ${s}: offset ${tiles[s]!.offset} PSNR ${tiles[s]!.psnr}`).join(' | ')}`);
  records.push(r);
}
if (values.out) writeBenchReport(values.out, provenance, { records });
