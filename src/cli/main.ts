#!/usr/bin/env node
/**
 * fusionfm command line.
 *   fusionfm eval --data <task/dataset | dir> [--split test] [--methods ...] [--metrics ...] --out <dir>
 *   fusionfm fuse --method <classical fuser> <a> <b> -o <out.png>
 *   fusionfm metrics            (list metric names and conventions)
 */
import { parseArgs } from 'node:util';
import { classicalNames, fuseClassical } from '../fusion/classical/index.js';
import { METRICS } from '../fusion/metrics/index.js';
import { readImage, writePng } from '../io/image.js';
import { InputError } from '../util/errors.js';
import { DEFAULT_METRICS, runEval } from './eval.js';
import { progressPrinter } from './progress.js';
import { runDemo } from './demo.js';

const USAGE = `usage:
  fusionfm eval --data <task/dataset or folder> [--split test|train|all] [--methods m1,m2,...] [--metrics EN,SD,...] [--convention vifb|mefb|cddfuse] --out <dir> [--overwrite]
      methods: published candidate folders, 'all', classical:<${classicalNames().join('|')}>, 'classical', or label=<folder of fused images>
  fusionfm fuse --method <${classicalNames().join('|')}> <a> <b> -o <out.png> [--overwrite]
  fusionfm demo [--out out/demo] [--method gff]   (fuses the bundled sample pairs)
  fusionfm metrics`;

function list(v: string | undefined, dflt: string[]): string[] {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : dflt;
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'eval') {
    const { values } = parseArgs({ args: rest, options: {
      data: { type: 'string' }, split: { type: 'string', default: 'test' }, methods: { type: 'string' },
      metrics: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean', default: false }, convention: { type: 'string' },
    } });
    if (values.convention && !['vifb', 'mefb', 'cddfuse'].includes(values.convention)) throw new InputError(`--convention must be vifb, mefb or cddfuse, got '${values.convention}'`);
    if (!values.data || !values.out) throw new InputError(`eval needs --data and --out\n${USAGE}`);
    if (!['train', 'test', 'all'].includes(values.split!)) throw new InputError(`--split must be train, test or all, got '${values.split}'`);
    const { means, metrics } = await runEval({
      data: values.data, split: values.split as 'train' | 'test' | 'all', methods: list(values.methods, ['all', 'classical']),
      metrics: list(values.metrics, DEFAULT_METRICS), convention: values.convention as 'vifb' | 'mefb' | 'cddfuse' | undefined, out: values.out, overwrite: values.overwrite,
    }, progressPrinter());
    const ids = metrics.map((m) => m.id);
    console.log(['method'.padEnd(20), ...ids.map((i) => i.padStart(14))].join(''));
    for (const m of means) console.log([m.method.padEnd(20), ...m.values.map((v) => (Number.isFinite(v) ? v.toPrecision(5) : 'NaN').padStart(14))].join(''));
    console.log(`wrote ${values.out}/per_image.csv, mean.csv, report.html`);
    return;
  }
  if (cmd === 'fuse') {
    const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
      method: { type: 'string', default: 'gff' }, output: { type: 'string', short: 'o' }, overwrite: { type: 'boolean', default: false },
    } });
    if (positionals.length !== 2 || !values.output) throw new InputError(`fuse needs two source images and -o <out.png>\n${USAGE}`);
    const [a, b] = await Promise.all(positionals.map((p) => readImage(p)));
    const t0 = performance.now();
    const f = fuseClassical(values.method!, a!, b!);
    writePng(values.output, f, { overwrite: values.overwrite });
    console.log(`${values.output}: ${f.width}x${f.height} ${f.planes.length === 3 ? 'colour' : 'grey'}, ${values.method} in ${(performance.now() - t0).toFixed(0)} ms`);
    return;
  }
  if (cmd === 'demo') {
    const { values } = parseArgs({ args: rest, options: { out: { type: 'string', default: 'out/demo' }, method: { type: 'string', default: 'gff' } } });
    await runDemo(values.out!, values.method!);
    return;
  }
  if (cmd === 'metrics') {
    for (const m of METRICS.values()) console.log(`${m.id.padEnd(24)} ${m.higherIsBetter ? 'higher' : 'lower '} is better  ${m.description}`);
    return;
  }
  throw new InputError(`${cmd ? `unknown command '${cmd}'` : 'no command'}\n${USAGE}`);
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(e instanceof InputError ? `fusionfm: ${e.message}` : e);
  process.exit(e instanceof InputError ? 2 : 1);
});
