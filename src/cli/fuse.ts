/** `fusionfm fuse`: a pair or a whole dataset split, with a FusionFM model or a classical fuser. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useRuntime } from '../autograd/tensor.js';
import { fuseClassical } from '../fusion/classical/index.js';
import { fuseImages } from '../fusion/flow/fuse.js';
import { SOLVERS, type Solver } from '../fusion/flow/sampler.js';
import type { Image } from '../fusion/image.js';
import { getNodeRuntime } from '../gpu/node-device.js';
import { Dataset } from '../io/dataset.js';
import { loadFlowModel } from '../io/flow-checkpoint.js';
import { readImage, writePng } from '../io/image.js';
import { InputError } from '../util/errors.js';
import { progressPrinter } from './progress.js';

/** The bundled default model, if the package ships one. */
export function defaultCheckpoint(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../..', '../..']) {
    const p = resolve(here, up, 'checkpoints', 'default.safetensors');
    if (existsSync(p)) return p;
  }
  return null;
}

export async function runFuse(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    method: { type: 'string' }, task: { type: 'string' }, checkpoint: { type: 'string' }, steps: { type: 'string', default: '1' },
    solver: { type: 'string', default: 'euler' }, output: { type: 'string', short: 'o' }, overwrite: { type: 'boolean', default: false },
    data: { type: 'string' }, split: { type: 'string', default: 'test' },
  } });
  if (!values.output) throw new InputError('fuse needs -o <out.png> (or -o <folder> with --data)');
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new InputError(`--steps must be a positive integer, got '${values.steps}'`);
  if (!(SOLVERS as readonly string[]).includes(values.solver!)) throw new InputError(`--solver must be one of ${SOLVERS.join(', ')}, got '${values.solver}'`);
  let fuse: (a: Image, b: Image) => Promise<Image>;
  let label: string;
  if (values.method) {
    fuse = async (a, b) => fuseClassical(values.method!, a, b);
    label = values.method;
  } else {
    const ckpt = values.checkpoint ?? defaultCheckpoint();
    if (!ckpt) throw new InputError('no --checkpoint given and no bundled checkpoints/default.safetensors; train one with `fusionfm train` or use --method <classical fuser>');
    useRuntime(await getNodeRuntime());
    const { net, meta } = loadFlowModel(ckpt, values.task);
    fuse = (a, b) => fuseImages(net, a, b, { steps, solver: values.solver as Solver, coupling: meta.coupling, objective: meta.objective });
    label = `FusionFM (${ckpt}, ${steps} ${values.solver} step${steps > 1 ? 's' : ''})`;
  }
  // each job reads its pair only when it runs, so a whole split is never held in memory at once
  const jobs: { read: () => Promise<{ a: Image; b: Image }>; out: string; name: string }[] = [];
  if (values.data) {
    const ds = new Dataset(values.data);
    if (!['train', 'test', 'all'].includes(values.split!)) throw new InputError(`--split must be train, test or all, got '${values.split}'`);
    mkdirSync(values.output, { recursive: true });
    for (const p of ds.split(values.split as 'train' | 'test' | 'all')) {
      jobs.push({ read: () => ds.readPair(p), out: join(values.output, `${p.name}.png`), name: p.name });
    }
  } else {
    if (positionals.length !== 2) throw new InputError('fuse needs two source images (or --data <task/dataset>)');
    jobs.push({ read: async () => ({ a: await readImage(positionals[0]!), b: await readImage(positionals[1]!) }), out: values.output, name: positionals.join(' + ') });
  }
  const progress = progressPrinter();
  let done = 0;
  for (const j of jobs) {
    if (!values.overwrite && existsSync(j.out)) throw new InputError(`${j.out}: output exists; pass --overwrite to replace it`);
    const { a, b } = await j.read();
    const t0 = performance.now();
    const f = await fuse(a, b);
    const ms = performance.now() - t0;
    writePng(j.out, f, { overwrite: values.overwrite });
    if (jobs.length === 1) console.log(`${j.out}: ${f.width}x${f.height} ${f.planes.length === 3 ? 'colour' : 'grey'} by ${label} in ${ms.toFixed(0)} ms`);
    else progress({ task: 'fuse', done: ++done, total: jobs.length, item: j.name });
  }
  if (!values.method) (await getNodeRuntime()).destroy();
}
