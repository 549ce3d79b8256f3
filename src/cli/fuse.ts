/** `fusionfm fuse`: a pair or a whole dataset split, with a FusionFM model or a classical fuser. */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { useRuntime } from '../autograd/tensor.js';
import { fuseClassical } from '../fusion/classical/index.js';
import { fuseImages, TILE_MODES, type TileMode } from '../fusion/flow/fuse.js';
import { SOLVERS, type Solver } from '../fusion/flow/sampler.js';
import type { Image } from '../fusion/image.js';
import { checkTask } from '../fusion/pseudo/selection.js';
import { getNodeRuntime } from '../gpu/node-device.js';
import { Dataset } from '../io/dataset.js';
import { loadFlowModel } from '../io/flow-checkpoint.js';
import { outputFormat, readImage, writeImage } from '../io/image.js';
import { prepareOutputDir, prepareOutputFile } from '../io/output.js';
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

interface Job {
  read: () => Promise<{ a: Image; b: Image }>;
  out: string;
  name: string;
}

/** What was converted on the way out, said rather than done silently. */
function conversionNotes(a: Image, b: Image, out: string, format: 'PNG' | 'JPEG'): string[] {
  const notes: string[] = [];
  for (const s of [a, b]) if (s.alphaDropped) notes.push(`${s.source}: its alpha channel (transparency) is not fused; ${out} has none`);
  if (format === 'JPEG' && Math.max(a.bitDepth, b.bitDepth) > 8) notes.push(`${out}: written as 8-bit JPEG from ${Math.max(a.bitDepth, b.bitDepth)}-bit sources; name it .png to keep the depth`);
  return notes;
}

/**
 * A window flag of `fuse`: undefined where not given (the fusion's default), null for 'whole'
 * (over the whole tile or image), else a positive whole number of `unit`; models only.
 */
function windowFlag(flag: string, value: string | undefined, unit: string, classical: boolean): number | null | undefined {
  if (value === undefined) return undefined;
  const n = value === 'whole' ? null : Number(value);
  if (n !== null && !(Number.isInteger(n) && n > 0)) throw new InputError(`--${flag} must be a positive whole number of ${unit} or 'whole', got '${value}'`);
  if (classical) throw new InputError(`--${flag} applies to a model (FusionFM or the DDPM baseline), not to --method`);
  return n;
}

export async function runFuse(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    method: { type: 'string' }, task: { type: 'string' }, checkpoint: { type: 'string' }, steps: { type: 'string', default: '1' },
    solver: { type: 'string', default: 'euler' }, output: { type: 'string', short: 'o' }, overwrite: { type: 'boolean', default: false },
    data: { type: 'string' }, split: { type: 'string' }, tiles: { type: 'string', default: 'auto' }, 'attention-window': { type: 'string' }, 'norm-window': { type: 'string' },
  } });
  if (!values.output) throw new InputError('fuse needs -o <out.png> (or -o <folder> with --data)');
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new InputError(`--steps must be a positive integer, got '${values.steps}'`);
  if (!(SOLVERS as readonly string[]).includes(values.solver!)) throw new InputError(`--solver must be one of ${SOLVERS.join(', ')}, got '${values.solver}'`);
  if (values.split !== undefined && !['train', 'test', 'all'].includes(values.split)) throw new InputError(`--split must be train, test or all, got '${values.split}'`);
  // auto (the default): one piece for the tasks of TASK_ONE_PIECE (all but multi-exposure) where the
  // image fits one, else portable; portable: tiles of the attention window the nets were trained
  // near, smaller for multi-exposure (on held-out pairs one piece cost multi-exposure 0.004-0.017
  // of composite, and its 128 px tiles gained it 0.008-0.017; TASK_TILE_SIDE); whole: one piece
  // where memory allows (faster on lavapipe); device: the device's own limit
  if (!(TILE_MODES as readonly string[]).includes(values.tiles!)) throw new InputError(`--tiles must be ${TILE_MODES.slice(0, -1).join(', ')} or ${TILE_MODES.at(-1)}, got '${values.tiles}'`);
  if (values.method && values.tiles !== 'auto') throw new InputError('--tiles applies to a model (FusionFM or the DDPM baseline), not to --method');
  // attention windows in tokens a side of the net's lowest level; norm windows in net-input pixels
  const attentionWindow = windowFlag('attention-window', values['attention-window'], 'tokens', !!values.method);
  const normWindow = windowFlag('norm-window', values['norm-window'], 'pixels', !!values.method);
  if (values.task !== undefined) checkTask(values.task);
  if (values.checkpoint !== undefined && !existsSync(values.checkpoint)) throw new InputError(`--checkpoint ${values.checkpoint}: file not found`);

  // every input and output is checked before the model loads or any pair is fused
  const overwrite = values.overwrite!;
  const jobs: Job[] = [];
  let task = values.task;
  if (values.data) {
    if (positionals.length) throw new InputError(`fuse --data takes no source images on the command line (got ${positionals.join(', ')})`);
    const ds = new Dataset(values.data);
    task ??= ds.task() ?? undefined;
    // a shared dataset defaults to its test split; a plain folder of pairs has no splits: all of it
    const split = (values.split ?? (ds.hasSplits() ? 'test' : 'all')) as 'train' | 'test' | 'all';
    if (split !== 'all' && !ds.hasSplits()) throw new InputError(`--split ${split}: ${values.data} is not listed in splits.json, so it has no ${split} split; leave --split out to fuse all its pairs`);
    if (existsSync(values.output) && !statSync(values.output).isDirectory()) throw new InputError(`-o ${values.output}: is a file; with --data, -o names a folder for the fused images`);
    prepareOutputDir(values.output, '-o');
    // each job reads its pair only when it runs, so a whole split is never held in memory at once
    for (const p of ds.split(split)) jobs.push({ read: () => ds.readPair(p), out: join(values.output, `${p.name}.png`), name: p.name });
    const taken = jobs.filter((j) => existsSync(j.out));
    if (taken.length && !overwrite) throw new InputError(`-o ${values.output}: ${taken.length} of the ${jobs.length} outputs exist already (e.g. ${taken[0]!.out}); pass --overwrite to replace them`);
  } else {
    if (positionals.length !== 2) throw new InputError(`fuse needs two source images (or --data <task/dataset or folder>); got ${positionals.length}`);
    for (const p of positionals) if (!existsSync(p)) throw new InputError(`${p}: image file not found`);
    prepareOutputFile(values.output, { overwrite, arg: '-o' });
    jobs.push({ read: async () => ({ a: await readImage(positionals[0]!), b: await readImage(positionals[1]!) }), out: values.output, name: positionals.join(' + ') });
  }

  let fuse: (a: Image, b: Image) => Promise<Image>;
  let label: string;
  if (values.method) {
    fuse = async (a, b) => fuseClassical(values.method!, a, b);
    label = values.method;
  } else {
    const ckpt = values.checkpoint ?? defaultCheckpoint();
    if (!ckpt) throw new InputError('no --checkpoint given and no bundled checkpoints/default.safetensors; train one with `fusionfm train` or use --method <classical fuser>');
    useRuntime(await getNodeRuntime());
    const { net, meta } = loadFlowModel(ckpt, task);
    if (net.conditionTasks.length && task === undefined) throw new InputError(`${ckpt}: the model is task-conditioned on ${net.conditionTasks.join(', ')}; name the task with --task`);
    const tiles = values.tiles as TileMode;
    fuse = (a, b) => fuseImages(net, a, b, { steps, solver: values.solver as Solver, coupling: meta.coupling, objective: meta.objective, task, tiles, ...(attentionWindow !== undefined ? { attentionWindow } : {}), ...(normWindow !== undefined ? { normWindow } : {}) });
    const s = `${steps} step${steps > 1 ? 's' : ''}`;
    label = meta.objective === 'ddpm' ? `the DDPM baseline (${ckpt}, DDIM, ${s})` : `FusionFM (${ckpt}, ${steps} ${values.solver} step${steps > 1 ? 's' : ''})`;
    if (meta.objective === 'ddpm' && values.solver !== 'euler') console.error(`fusionfm: note: --solver ${values.solver} does not apply to a DDPM checkpoint; it is sampled with DDIM`);
  }
  if (values.data) console.log(`fusing ${jobs.length} pair${jobs.length === 1 ? '' : 's'} of ${values.data}${task ? ` (task ${task})` : ''} with ${label} into ${values.output}`);
  const progress = progressPrinter();
  let done = 0;
  for (const j of jobs) {
    const { a, b } = await j.read();
    const t0 = performance.now();
    const fused = await fuse(a, b);
    const ms = performance.now() - t0;
    // the output keeps the sources' depth (16-bit PNG for 16-bit sources)
    const f: Image = { ...fused, bitDepth: Math.max(a.bitDepth, b.bitDepth) };
    const format = outputFormat(j.out, '-o');
    writeImage(j.out, f, { overwrite });
    for (const n of conversionNotes(a, b, j.out, format)) console.error(`fusionfm: note: ${n}`);
    if (jobs.length === 1) console.log(`${j.out}: ${f.width}x${f.height} ${f.planes.length === 3 ? 'colour' : 'grey'} ${f.bitDepth}-bit ${format} by ${label} in ${ms.toFixed(0)} ms`);
    else progress({ task: 'fuse', done: ++done, total: jobs.length, item: `${j.name} (${f.width}x${f.height}, ${(ms / 1000).toFixed(2)} s)`, values: { 's/image': ms / 1000 } });
  }
  if (!values.method) (await getNodeRuntime()).destroy();
}
