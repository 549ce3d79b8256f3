/** `fusionfm demo`: fuses every bundled sample pair (samples/) and prints a few metrics. */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuseClassical } from '../fusion/classical/index.js';
import { getMetric, metricInput } from '../fusion/metrics/index.js';
import { readImage, writePng } from '../io/image.js';
import { InputError } from '../util/errors.js';

/** The samples folder of the package (dist/src/cli -> project root). */
export function samplesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../..', '../..']) {
    const d = resolve(here, up, 'samples');
    if (existsSync(d)) return d;
  }
  throw new InputError('the bundled samples/ folder was not found next to the package');
}

export async function runDemo(out: string, method: string): Promise<void> {
  const root = samplesDir();
  mkdirSync(out, { recursive: true });
  const metrics = ['EN', 'SD', 'Qabf', 'SSIM'].map((m) => getMetric(m));
  console.log(`${'sample'.padEnd(22)}${'size'.padEnd(11)}${'ms'.padStart(6)}  ${metrics.map((m) => m.id.padStart(11)).join('')}  output`);
  for (const dir of readdirSync(root).filter((d) => !d.includes('.')).sort()) {
    const files = readdirSync(join(root, dir)).sort();
    const aFile = files.find((f) => /_a\.(png|jpg)$/.test(f));
    const bFile = files.find((f) => /_b\.(png|jpg)$/.test(f));
    if (!aFile || !bFile) continue;
    const a = await readImage(join(root, dir, aFile));
    const b = await readImage(join(root, dir, bFile));
    const t0 = performance.now();
    const f = fuseClassical(method, a, b);
    const ms = performance.now() - t0;
    const path = join(out, `${dir}-${method}.png`);
    writePng(path, f, { overwrite: true });
    const input = metricInput(a, b, f);
    console.log(`${dir.padEnd(22)}${`${f.width}x${f.height}`.padEnd(11)}${ms.toFixed(0).padStart(6)}  ${metrics.map((m) => m.compute(input).toPrecision(5).padStart(11)).join('')}  ${path}`);
  }
}
