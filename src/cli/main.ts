#!/usr/bin/env node
/**
 * fusionfm command line.
 *   fusionfm eval --data <task/dataset | dir> [--split test] [--methods ...] [--metrics ...] --out <dir>
 *   fusionfm fuse --method <classical fuser> <a> <b> -o <out.png>
 *   fusionfm metrics            (list metric names and conventions)
 */
import { parseArgs } from 'node:util';
import { classicalNames } from '../fusion/classical/index.js';
import { METRICS } from '../fusion/metrics/index.js';
import { InputError } from '../util/errors.js';
import { DEFAULT_METRICS, runEval } from './eval.js';
import { progressPrinter } from './progress.js';
import { runDemo } from './demo.js';
import { runFuse } from './fuse.js';
import { runTrain } from './train.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../fusion/flow/trainer.js';
import { checkCoupling } from '../fusion/flow/path.js';
import { getNodeRuntime } from '../gpu/node-device.js';
import { useRuntime } from '../autograd/tensor.js';

const USAGE = `usage:
  fusionfm eval --data <task/dataset or folder> [--split test|train|all] [--methods m1,m2,...] [--metrics EN,SD,...] [--convention vifb|mefb|cddfuse] --out <dir> [--overwrite]
      methods: published candidate folders, 'all', classical:<${classicalNames().join('|')}>, 'classical', or label=<folder of fused images>
  fusionfm fuse [--task ivf|mif|mef|mff] [--checkpoint model.safetensors] [--steps 1] [--solver euler|midpoint|rk4] <a> <b> -o <out.png> [--overwrite]
  fusionfm fuse --method <${classicalNames().join('|')}> <a> <b> -o <out.png>
  fusionfm fuse ... --data <task/dataset> [--split test] -o <folder>     (every pair of a split)
  fusionfm train --task <t> --data <task/dataset> --labels candidate:<method>|<folder> --out <run dir> [--steps N] [--batch B] [--crop S] [--lr x] [--seed n] [--coupling sum|average|gaussian] [--resume]
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
    await runFuse(rest);
    return;
  }
  if (cmd === 'train') {
    const { values } = parseArgs({ args: rest, options: {
      task: { type: 'string' }, data: { type: 'string' }, labels: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean', default: false },
      steps: { type: 'string' }, batch: { type: 'string' }, crop: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
      coupling: { type: 'string' }, width: { type: 'string' }, 'checkpoint-every': { type: 'string', default: '200' },
    } });
    if (!values.task || !values.data || !values.labels || !values.out) throw new InputError(`train needs --task, --data, --labels and --out\n${USAGE}`);
    const num = (name: string, v: string | undefined, dflt: number, int = true) => {
      if (v === undefined) return dflt;
      const x = Number(v);
      if (!Number.isFinite(x) || x <= 0 || (int && !Number.isInteger(x))) throw new InputError(`--${name} must be a positive ${int ? 'integer' : 'number'}, got '${v}'`);
      return x;
    };
    const base = num('width', values.width, DEFAULT_TRAIN.model.baseChannels);
    const config: TrainConfig = {
      ...DEFAULT_TRAIN,
      model: { ...DEFAULT_TRAIN.model, baseChannels: base },
      steps: num('steps', values.steps, DEFAULT_TRAIN.steps), batch: num('batch', values.batch, DEFAULT_TRAIN.batch),
      crop: num('crop', values.crop, DEFAULT_TRAIN.crop), lr: num('lr', values.lr, DEFAULT_TRAIN.lr, false), seed: num('seed', values.seed, DEFAULT_TRAIN.seed),
      coupling: checkCoupling(values.coupling ?? DEFAULT_TRAIN.coupling),
    };
    useRuntime(await getNodeRuntime());
    const trainer = await runTrain({ task: values.task, data: values.data, labels: values.labels, out: values.out, resume: values.resume!, checkpointEvery: num('checkpoint-every', values['checkpoint-every'], 200), config, command: `fusionfm train ${rest.join(' ')}` }, progressPrinter());
    console.log(`trained to step ${trainer.step}; model in ${values.out}/model.safetensors`);
    (await getNodeRuntime()).destroy();
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
