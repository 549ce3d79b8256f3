/**
 * `fusionfm train`: flow-matching training of the velocity field on the train split of one or
 * more datasets (several tasks at once are sampled evenly by task).
 * The run directory holds model.safetensors (EMA weights, self-describing, what `fuse`
 * loads), state.safetensors (everything --resume needs: tensors, and step, data order and
 * configuration in its header), state.json (a readable copy of that header), loss.svg,
 * samples/ and run.lock while a run is alive. Every file is replaced atomically, so an
 * interrupted run leaves the last good checkpoint in place.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseClassical } from '../fusion/classical/index.js';
import { luminance } from '../fusion/colour.js';
import { fuseLuminance } from '../fusion/flow/fuse.js';
import { ContinualTrainer, type ContinualConfig, type ContinualMeta } from '../fusion/flow/continual.js';
import { FlowTrainer, type TrainConfig, type TrainerMeta, type Triple } from '../fusion/flow/trainer.js';
import type { HostTensor } from '../nn/safetensors.js';
import { makeImage, type Image } from '../fusion/image.js';
import { loadSafetensors, removeStaleTemps, saveSafetensors, writeFileAtomic } from '../io/checkpoint.js';
import { acquireRunLock } from '../io/run-lock.js';
import { Dataset } from '../io/dataset.js';
import { loadFlowModel, saveFlowModel, type LoadedFlowModel } from '../io/flow-checkpoint.js';
import { readImage, writePng } from '../io/image.js';
import { InputError } from '../util/errors.js';
import type { ProgressSink } from '../util/progress.js';

export interface TrainOptions {
  task: string;
  data: string;
  /** 'candidate:<method>' (a published candidate folder), 'classical:<fuser>', or a folder of labels named by pair (or a root of <task>/<dataset>/ folders) */
  labels: string;
  out: string;
  resume: boolean;
  checkpointEvery: number;
  config: TrainConfig;
  /** training pairs per dataset held out as a validation set (Dataset.trainHoldOut); absent: none */
  holdOut?: number;
  /** sequential training over tasks with EWC and replay (`--tasks`) */
  continual?: ContinualConfig;
  /** a model file (fusionfm's format) whose weights the run starts from instead of random ones (`--init`) */
  init?: string;
  command: string;
}

/**
 * The model file a run starts from (`--init`), checked against the run's configuration: the same
 * net (width, levels, head, source gate, task rows), objective and coupling, since the weights only
 * mean what they mean in that net. Which tasks a choice term trained (choiceTrained) is a record
 * for inference, not part of the net: a model trained without the term can be fine-tuned with it.
 */
export function initModelFor(path: string, config: TrainConfig): LoadedFlowModel {
  const loaded = loadFlowModel(path);
  const net = ({ choiceTrained: _, ...rest }: typeof config.model) => rest;
  const want = { net: net(config.model), objective: config.objective ?? 'flow', coupling: config.coupling };
  const have = { net: net(loaded.meta.config), objective: loaded.meta.objective ?? 'flow', coupling: loaded.meta.coupling };
  const differs = (Object.keys(want) as (keyof typeof want)[]).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(have[k]));
  if (differs.length) {
    loaded.net.dispose();
    const show = (o: typeof want) => differs.map((k) => `${k} ${JSON.stringify(o[k])}`).join(', ');
    throw new InputError(`--init ${path}: the model was trained as ${show(have)}; this run asks for ${show(want)} (pass the options that made it: --width, --head, --source-gate, --task-embedding with the same tasks in the same order, --objective, --coupling)`);
  }
  return loaded;
}

/** The label of `pair` in a folder of labels named by pair (<pair>.png or .jpg), or undefined. */
export function labelFileIn(dir: string, pair: string): string | undefined {
  return ['png', 'jpg'].map((ext) => join(dir, `${pair}.${ext}`)).find((f) => existsSync(f));
}

export async function labelImage(ds: Dataset, labels: string, pair: string, a: Image, b: Image): Promise<Image> {
  if (labels.startsWith('classical:')) return fuseClassical(labels.slice('classical:'.length), a, b);
  if (labels.startsWith('candidate:')) {
    const m = labels.slice('candidate:'.length);
    const p = ds.candidatePath(m, pair);
    if (!p) throw new InputError(`--labels ${labels}: ${ds.id} has no ${m} result for pair '${pair}'`);
    return readImage(p);
  }
  // a folder of labels named by pair, or a root holding one such folder per dataset id
  const dirs = [join(labels, ds.id), labels];
  for (const d of dirs) {
    const f = labelFileIn(d, pair);
    if (f) return readImage(f);
  }
  throw new InputError(`--labels ${labels}: no label for ${ds.id} pair '${pair}' (expected ${pair}.png or .jpg in ${dirs.join(' or ')})`);
}

/** Train triples of one or more datasets (comma-separated ids), grouped by task. */
export async function loadTriples(o: Pick<TrainOptions, 'data' | 'labels' | 'holdOut'>): Promise<{ triples: Triple[]; hash: string; heldOut: string[] }> {
  const hash = createHash('sha256');
  const triples: Triple[] = [];
  const heldOut: string[] = [];
  for (const id of o.data.split(',').map((s) => s.trim()).filter(Boolean)) {
    const ds = new Dataset(id);
    // a folder that splits.json does not list (e.g. the user's own pairs) is all training data
    const { train, held } = ds.trainHoldOut(o.holdOut ?? 0);
    heldOut.push(...held.map((p) => `${ds.id}/${p.name}`));
    for (const p of train) {
      const { a, b } = await ds.readPair(p);
      const l = await labelImage(ds, o.labels, p.name, a, b);
      if (l.width !== a.width || l.height !== a.height) throw new InputError(`${l.source}: label is ${l.width}x${l.height}, pair '${p.name}' is ${a.width}x${a.height}`);
      const t = { name: `${ds.id}/${p.name}`, w: a.width, h: a.height, a: luminance(a), b: luminance(b), label: luminance(l), group: ds.id.split('/')[0] };
      for (const arr of [t.a, t.b, t.label]) hash.update(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
      triples.push(t);
    }
  }
  if (!triples.length) throw new InputError(`--data ${o.data}: no training pairs`);
  return { triples, hash: hash.digest('hex').slice(0, 16), heldOut };
}

function lossSvg(losses: number[]): string {
  const W = 640;
  const H = 240;
  const n = losses.length;
  // a moving average keeps the curve readable; the y axis is logarithmic
  const k = Math.max(1, Math.floor(n / 200));
  const pts: [number, number][] = [];
  for (let i = 0; i < n; i += k) {
    const seg = losses.slice(Math.max(0, i - 10 * k), i + 1);
    pts.push([i, seg.reduce((a, b) => a + b, 0) / seg.length]);
  }
  const lo = Math.log10(Math.min(...pts.map((p) => p[1])));
  const hi = Math.log10(Math.max(...pts.map((p) => p[1])));
  const sx = (i: number) => 40 + ((W - 50) * i) / Math.max(1, n - 1);
  const sy = (v: number) => 10 + ((H - 40) * (hi - Math.log10(v))) / Math.max(1e-9, hi - lo);
  const path = pts.map(([i, v], j) => `${j ? 'L' : 'M'}${sx(i).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/><path d="${path}" fill="none" stroke="#2563eb" stroke-width="1.5"/>
<text x="40" y="${H - 8}">step 0</text><text x="${W - 60}" y="${H - 8}">step ${n}</text>
<text x="2" y="14">${(10 ** hi).toExponential(1)}</text><text x="2" y="${H - 30}">${(10 ** lo).toExponential(1)}</text>
<text x="${W / 2 - 60}" y="${H - 8}">flow-matching loss (log)</text></svg>\n`;
}

/** The part of a trainer that checkpointing needs: single-task and continual runs alike. */
interface Checkpointable {
  readonly trainer: FlowTrainer;
  state(): Promise<{ tensors: Map<string, HostTensor>; meta: object }>;
  restore(tensors: Map<string, HostTensor>, meta: TrainerMeta & { continual?: ContinualMeta }, source: string): void;
}

/** The state file's format: tensors plus, in its header, everything else --resume needs (one atomic unit). */
const STATE_FORMAT = 'fusionfm-train-state/2';

export async function runTrain(o: TrainOptions, progress: ProgressSink): Promise<FlowTrainer> {
  mkdirSync(join(o.out, 'samples'), { recursive: true });
  acquireRunLock(o.out, (m) => console.error(`fusionfm: note: ${m}`));
  // we hold the lock, so any temp file here is a killed save's
  const stale = [...removeStaleTemps(o.out), ...removeStaleTemps(join(o.out, 'samples'))];
  if (stale.length) console.error(`fusionfm: note: removed ${stale.length} temp file(s) of an interrupted save in ${o.out}`);
  const { triples, hash, heldOut } = await loadTriples(o);
  const statePath = join(o.out, 'state.safetensors');
  const metaPath = join(o.out, 'state.json');
  let run: Checkpointable;
  let continual: ContinualTrainer | null = null;
  if (o.continual) {
    const byTask = new Map<string, Triple[]>();
    for (const t of triples) byTask.set(t.group!, [...(byTask.get(t.group!) ?? []), t]);
    continual = new ContinualTrainer(o.config, o.continual, byTask);
    run = continual;
  } else {
    const trainer = new FlowTrainer(o.config, triples);
    trainer.task = o.task;
    run = { trainer, state: () => trainer.state(), restore: (t, m, src) => trainer.restore(t, m, src) };
  }
  const trainer = run.trainer;
  const settings = { config: o.config, continual: o.continual ?? null };
  if (o.resume) {
    if (!existsSync(statePath)) throw new InputError(`--resume: ${o.out} holds no state.safetensors to resume from`);
    const { tensors, metadata } = loadSafetensors(statePath);
    if (metadata.format !== STATE_FORMAT || !metadata.state) {
      throw new InputError(`--resume: ${statePath} is a ${metadata.format ?? 'unknown'} state, written before the training state became one file; its step cannot be checked against state.json, so it is not resumed (start the run again)`);
    }
    const meta = JSON.parse(metadata.state);
    if (JSON.stringify({ config: meta.config, continual: meta.continualConfig ?? null }) !== JSON.stringify(settings)) {
      throw new InputError(`--resume: ${statePath} was written with another configuration (${JSON.stringify({ config: meta.config, continual: meta.continualConfig ?? null })})`);
    }
    if (meta.dataHash !== hash) throw new InputError(`--resume: the training data or labels changed since ${statePath} was written (hash ${meta.dataHash} != ${hash})`);
    run.restore(tensors, meta, statePath);
  } else if (existsSync(statePath) || existsSync(metaPath)) {
    throw new InputError(`${o.out} already holds a run (state.safetensors); pass --resume to continue it or choose another --out`);
  } else if (o.init) {
    // a resumed run has its weights from the state; a new one starts from the model file's
    const init = initModelFor(o.init, o.config);
    try {
      await trainer.initFrom(init.net, o.init);
    } finally {
      init.net.dispose();
    }
  }
  const sample = triples[0]!;
  const tasksSoFar = () => (o.continual ? o.continual.tasks.slice(0, Math.max(1, Math.ceil(trainer.step / o.continual.stepsPerTask))) : o.task.split(','));
  /** The EMA weights as a self-describing model file (model.safetensors, and after each task a copy of it). */
  const saveModel = (path: string, tensors: Map<string, HostTensor>) => {
    const ema = new Map([...tensors].filter(([k]) => k.startsWith('ema.')).map(([k, v]) => [k.slice(4), v]));
    saveFlowModel(path, ema, {
      tasks: tasksSoFar(), config: o.config.model, coupling: o.config.coupling, objective: o.config.objective ?? 'flow',
      provenance: { command: o.command, seed: o.config.seed, step: trainer.step, data: o.data, labels: o.labels, data_hash: hash, ...(heldOut.length ? { held_out: heldOut.join(',') } : {}), ...(o.init ? { init: o.init } : {}) },
    });
  };
  const save = async (state?: Awaited<ReturnType<Checkpointable['state']>>) => {
    const st = state ?? (await run.state());
    const meta = { ...st.meta, config: o.config, continualConfig: o.continual ?? null, dataHash: hash, task: o.task, labels: o.labels, command: o.command };
    // weights, moments, step and data order land in one rename: no kill can pair one step's weights with another's metadata
    saveSafetensors(statePath, st.tensors, { format: STATE_FORMAT, state: JSON.stringify(meta) });
    // a copy for people (and scripts) to read; --resume never reads it
    writeFileAtomic(metaPath, new TextEncoder().encode(JSON.stringify(meta, null, 1)));
    saveModel(join(o.out, 'model.safetensors'), st.tensors);
    writeFileAtomic(join(o.out, 'loss.svg'), new TextEncoder().encode(lossSvg(trainer.losses)));
    const y = await fuseLuminance(trainer.net, sample.a, sample.b, sample.w, sample.h, { task: trainer.taskOf(sample) });
    writePng(join(o.out, 'samples', `step-${String(trainer.step).padStart(6, '0')}.png`), makeImage(sample.w, sample.h, [y]), { overwrite: true });
  };
  const total = o.continual ? o.continual.tasks.length * o.continual.stepsPerTask : o.config.steps;
  const onStep = async (step: number) => {
    if (step % o.checkpointEvery === 0 || step === total) await save();
  };
  if (continual) {
    await continual.run(progress, onStep, async (i) => {
      // this task's model first, then the state that carries its penalty: a kill between the two
      // resumes before the consolidation, which is redone and writes the same file again
      const st = await run.state();
      saveModel(join(o.out, `after-${i + 1}-${o.continual!.tasks[i]}.safetensors`), st.tensors);
      await save(st);
    });
  } else {
    await trainer.run(o.config.steps, progress, onStep);
  }
  return trainer;
}
