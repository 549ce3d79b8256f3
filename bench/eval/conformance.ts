/**
 * Metric conformance: recomputes the published per-image tables of VIFB and MEFB from the
 * shipped images with our VIFB-convention metrics and reports, per metric, the share of cells
 * within 0.5% relative (or 1e-3 absolute) of the published value.
 *
 *   npm run conformance [-- --jobs 2] [--datasets ivf/VIFB,mef/MEFB] [--limit-images N]
 *
 * Writes bench/results/conformance.json: [{dataset, metric, group, cells, within_tolerance,
 * rate, worst: {image, method, ours, published}}]. VIFB's SwinFusion and YDTR images were
 * re-encoded upstream after scoring (see the data README) and are reported as their own group.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collapseGrey, levels255, type Image } from '../../src/fusion/image.js';
import { mefSsim } from '../../src/fusion/metrics/mefssim.js';
import { plane, rgb2gray } from '../../src/fusion/metrics/plane.js';
import { mefbSpatialFrequency, VIFB_METRICS, type MetricInput } from '../../src/fusion/metrics/vifb.js';
import { Dataset, dataRoot, hasData } from '../../src/io/dataset.js';
import { jpegDecoder, readImage } from '../../src/io/image.js';

interface Cell {
  dataset: string;
  metric: string;
  group: string;
  image: string;
  method: string;
  ours: number;
  published: number;
}

const SETUPS: Record<string, { table: string; metrics: Record<string, string>; a: 'vi' | 'ir'; reencoded: string[] }> = {
  // VIFB calls f(VI, IR, F); VI is source b, IR is source a
  'ivf/VIFB': {
    table: 'vifb_per_image.csv',
    metrics: Object.fromEntries(Object.keys(VIFB_METRICS).map((m) => [m, m])),
    a: 'ir',
    reencoded: ['SwinFusion', 'YDTR'],
  },
  // MEFB calls f(A, B, F) with A under-exposed (source a), B over-exposed (source b)
  'mef/MEFB': {
    table: 'mefb_per_image.csv',
    metrics: { Cross_entropy: 'Cross_entropy', Entropy: 'Entropy', Psnr: 'Psnr', Avg_gradient: 'Avg_gradient', Edge_intensity: 'Edge_intensity', Qabf: 'Qabf', SD: 'Variance', Spatial_frequency: 'MEFB_Spatial_frequency', Qcb: 'Qcb', Qcv: 'Qcv', MEF_SSIM: 'MEF_SSIM' },
    a: 'vi',
    reencoded: [],
  },
};

export const TOLERANCE = { rel: 0.005, abs: 1e-3 };
export function within(ours: number, published: number): boolean {
  return Math.abs(ours - published) <= Math.max(TOLERANCE.rel * Math.abs(published), TOLERANCE.abs);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const levelsOf = (img: Image) => img.planes.map((_, k) => levels255(img, k));

function greyOf(c: Float64Array[], w: number, h: number) {
  return plane(w, h, c.length === 3 ? rgb2gray(c[0]!, c[1]!, c[2]!, true) : c[0]!);
}

/** Scores the images of one shard: every `n`-th image starting at `k`. */
export async function scoreShard(datasets: string[], k: number, n: number, limitImages?: number, onProgress?: (msg: string) => void, onlyImages?: string[]): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const id of datasets) {
    const setup = SETUPS[id]!;
    const ds = new Dataset(id);
    const rows = ds.metricsTable(setup.table);
    let images = [...new Set(rows.map((r) => r.image!))];
    if (onlyImages) images = images.filter((im) => onlyImages.includes(im));
    if (limitImages) images = images.slice(0, limitImages);
    for (let ii = k; ii < images.length; ii += n) {
      const image = images[ii]!;
      const { a, b } = await ds.readPair(ds.pair(image));
      const src1 = setup.a === 'ir' ? b : a; // the table's first argument
      const src2 = setup.a === 'ir' ? collapseGrey(a) : b;
      const s1 = levelsOf(src1);
      const s2 = levelsOf(src2);
      for (const row of rows.filter((r) => r.image === image)) {
        const method = row.method!;
        const path = ds.candidatePath(method, image);
        if (!path) continue;
        const f = await readImage(path);
        const input: MetricInput = { w: f.width, h: f.height, vi: s1, ir: s2, f: levelsOf(f) };
        for (const [column, ours] of Object.entries(setup.metrics)) {
          const published = Number(row[column]);
          if (!Number.isFinite(published)) continue;
          let v: number;
          if (ours === 'MEFB_Spatial_frequency') v = mefbSpatialFrequency(input);
          else if (ours === 'MEF_SSIM') v = mefSsim([greyOf(s1, f.width, f.height), greyOf(s2, f.width, f.height)], greyOf(input.f, f.width, f.height));
          else v = VIFB_METRICS[ours]!(input);
          cells.push({ dataset: id, metric: column, group: setup.reencoded.includes(method) ? 're-encoded upstream' : 'main', image, method, ours: v, published });
        }
      }
      onProgress?.(`${id} ${image} done`);
    }
  }
  return cells;
}

export function summarize(cells: Cell[]) {
  const keys = [...new Set(cells.map((c) => `${c.dataset}|${c.metric}|${c.group}`))];
  return keys.map((key) => {
    const [dataset, metric, group] = key.split('|') as [string, string, string];
    const cs = cells.filter((c) => c.dataset === dataset && c.metric === metric && c.group === group);
    const ok = cs.filter((c) => within(c.ours, c.published)).length;
    const worst = cs.reduce((w, c) => {
      const e = Math.abs(c.ours - c.published) / Math.max(Math.abs(c.published), 1e-12);
      return e > w.e ? { e, c } : w;
    }, { e: -1, c: cs[0]! }).c;
    return {
      dataset, metric, group, cells: cs.length, within_tolerance: ok, rate: Number((ok / cs.length).toFixed(4)),
      worst: { image: worst.image, method: worst.method, ours: Number(worst.ours.toPrecision(6)), published: worst.published },
    };
  });
}

async function main() {
  if (!hasData()) {
    console.log(`conformance: no shared data at ${dataRoot()} (set FUSIONFM_DATA); nothing to do`);
    return;
  }
  const datasets = (arg('datasets') ?? Object.keys(SETUPS).join(',')).split(',');
  const limit = arg('limit-images') ? Number(arg('limit-images')) : undefined;
  const shard = arg('shard');
  if (shard) {
    const [k, n] = shard.split('/').map(Number) as [number, number];
    const cells = await scoreShard(datasets, k, n, limit, (m) => console.error(`[shard ${k}] ${m}`));
    writeFileSync(arg('partial')!, JSON.stringify(cells));
    return;
  }
  const jobs = Number(arg('jobs') ?? 2);
  const self = fileURLToPath(import.meta.url);
  const parts = await Promise.all(Array.from({ length: jobs }, (_, k) => new Promise<Cell[]>((res, rej) => {
    const partial = join(tmpdir(), `conformance-${process.pid}-${k}.json`);
    const child = spawn(process.execPath, [...process.execArgv, self, '--shard', `${k}/${jobs}`, '--partial', partial, '--datasets', datasets.join(','), ...(limit ? ['--limit-images', String(limit)] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? res(JSON.parse(readFileSync(partial, 'utf8'))) : rej(new Error(`shard ${k} exited with ${code}`))));
  })));
  const summary = summarize(parts.flat());
  const decoder = await jpegDecoder();
  console.log(`JPEG decoder: ${decoder}; tolerance: ${TOLERANCE.rel * 100}% relative or ${TOLERANCE.abs} absolute`);
  for (const s of summary) console.log(`${s.dataset.padEnd(9)} ${s.metric.padEnd(18)} ${s.group.padEnd(20)} ${String(s.within_tolerance).padStart(4)}/${String(s.cells).padEnd(4)} ${(100 * s.rate).toFixed(1).padStart(6)}%   worst ${s.worst.image}/${s.worst.method}: ${s.worst.ours} vs ${s.worst.published}`);
  const out = arg('out') ?? 'bench/results/conformance.json';
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(summary, null, 1) + '\n');
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
