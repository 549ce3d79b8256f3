/** `fusionfm demo`: fuses every bundled sample pair (samples/) and prints a few metrics. */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useRuntime } from '../autograd/tensor.js';
import { fuseClassical } from '../fusion/classical/index.js';
import { fuseImages } from '../fusion/flow/fuse.js';
import type { Image } from '../fusion/image.js';
import { getNodeRuntime } from '../gpu/node-device.js';
import { loadFlowModel } from '../io/flow-checkpoint.js';
import { getMetric, metricInput } from '../fusion/metrics/index.js';
import { readImage, writePng } from '../io/image.js';
import { InputError } from '../util/errors.js';
import { defaultCheckpoint } from './fuse.js';

/** The samples folder of the package (dist/src/cli -> project root). */
export function samplesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../..', '../..']) {
    const d = resolve(here, up, 'samples');
    if (existsSync(d)) return d;
  }
  throw new InputError('the bundled samples/ folder was not found next to the package');
}

/**
 * Fuses every sample pair with the FusionFM model (one Euler step; the bundled default unless
 * `checkpoint` names another) and with a classical fuser for reference, printing a few metrics
 * of each. Without any model (or with `method`), only the classical fuser runs.
 */
export async function runDemo(out: string, opts: { checkpoint?: string; method?: string } = {}): Promise<void> {
  const root = samplesDir();
  mkdirSync(out, { recursive: true });
  const ckpt = opts.method ? null : (opts.checkpoint ?? defaultCheckpoint());
  if (opts.checkpoint && !existsSync(opts.checkpoint)) throw new InputError(`--checkpoint ${opts.checkpoint}: file not found`);
  const reference = opts.method ?? 'gff';
  let model: ReturnType<typeof loadFlowModel> | null = null;
  if (ckpt) {
    const rt = await getNodeRuntime();
    useRuntime(rt);
    model = loadFlowModel(ckpt);
    console.log(`FusionFM model ${ckpt} (tasks ${model.meta.tasks.join(', ')}, ${model.net.parameters().reduce((s, p) => s + p.size, 0)} parameters) on ${rt.adapter.name}; reference: classical ${reference}`);
  } else {
    console.log(`no FusionFM model (checkpoints/default.safetensors or --checkpoint); fusing with classical ${reference}`);
  }
  const metrics = ['EN', 'SD', 'Qabf', 'SSIM'].map((m) => getMetric(m));
  console.log(`${'sample'.padEnd(20)}${'method'.padEnd(16)}${'size'.padEnd(10)}${'ms'.padStart(7)}  ${metrics.map((m) => m.id.padStart(11)).join('')}  output`);
  for (const dir of readdirSync(root).filter((d) => !d.includes('.')).sort()) {
    const files = readdirSync(join(root, dir)).sort();
    const aFile = files.find((f) => /_a\.(png|jpg)$/.test(f));
    const bFile = files.find((f) => /_b\.(png|jpg)$/.test(f));
    if (!aFile || !bFile) continue;
    const a = await readImage(join(root, dir, aFile));
    const b = await readImage(join(root, dir, bFile));
    const task = dir.split('-')[0]!;
    const runs: [string, () => Promise<Image>][] = [];
    if (model && model.meta.tasks.includes(task)) runs.push(['fusionfm', () => fuseImages(model!.net, a, b, { steps: 1, coupling: model!.meta.coupling, task })]);
    runs.push([reference, async () => fuseClassical(reference, a, b)]);
    for (const [name, fuse] of runs) {
      const t0 = performance.now();
      const f = await fuse();
      const ms = performance.now() - t0;
      const path = join(out, `${dir}-${name}.png`);
      writePng(path, f, { overwrite: true });
      const input = metricInput(a, b, f);
      console.log(`${dir.padEnd(20)}${name.padEnd(16)}${`${f.width}x${f.height}`.padEnd(10)}${ms.toFixed(0).padStart(7)}  ${metrics.map((m) => m.compute(input).toPrecision(5).padStart(11)).join('')}  ${path}`);
    }
  }
  if (model) {
    model.net.dispose();
    (await getNodeRuntime()).destroy();
  }
}
