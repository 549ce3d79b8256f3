/**
 * The continual-learning study: one small velocity net trained on IVF -> MIF -> MEF -> MFF with
 * the same budget under four variants (plain fine-tuning, EWC only, replay only, EWC + replay),
 * a replay-size sweep (at lambda 1 and at the lambda chosen on validation) and a lambda sweep,
 * plus single-task models for reference.
 *
 * R[i][j]: the task composite (stage-1 selection score: metrics min-max normalised over the
 * pair's candidate pool, published + classical) of the one-step output on task j's test pairs
 * after training task i; the same matrices under Qabf alone (bounded, in every task's table) go
 * to <out>/qabf. Evaluation uses 128x128 centre crops of up to 6 test pairs per task (MIF:
 * 2 from each medical set), so that 44 evaluations fit the budget of a software GPU; the pool is
 * cropped identically. The raw (not EMA) weights are evaluated, since EMA would blur tasks.
 *   ACC = mean_j R[T][j];  BWT = mean_{j<T} (R[T][j] - R[j][j]);  FWT = mean_{j>1} (R[j-1][j] - b_j)
 * with b_j the untrained net's score.
 *
 *   node dist/bench/continual/continual.js [--labels runs/labels] [--steps 100] [--out bench/results/continual]
 *        [--only '<variant>;...;single'] [--net small|default] [--batch 4] [--crop 48] [--fisher-samples 32]
 *        [--seed 1] [--eval-cache file.json [--prepare-only]] [--probe-seconds 20] [--val-pairs 2]
 * --only runs some variants (by name; 'single' = the single-task references) so that variants
 * can run as parallel processes and be merged by bench/continual/continual-merge.ts. --eval-cache keeps the
 * evaluation crops and their pool bounds in one file, so a machine without the candidate
 * folders (a GPU machine) can score. --seed changes the initial weights and the data order; runs of
 * several seeds, merged, give the spread that differences between variants must exceed.
 * --val-pairs K holds K training pairs per task out of every run's training (continual-setup.ts
 * says which) and scores each R row on their centre crops too, into <out>/validation: the
 * numbers bench/continual/continual-select.ts chooses lambda by, so that the test split is not used for it
 * (the cache of those crops: <eval-cache minus .json>.valK.json).
 * --probe-seconds times, for the first selected variant, this machine's training step and one
 * evaluation row, prints them as one JSON line and exits: bench/gpu/run.sh runs one probe per
 * variant side by side, so the times include the contention of the real run, and sizes the
 * steps per task to its time budget from them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { applyCrop, windowAt } from '../../src/fusion/augment.js';
import { ContinualTrainer, DEFAULT_CONTINUAL, type ContinualConfig } from '../../src/fusion/flow/continual.js';
import { fuseLuminance } from '../../src/fusion/flow/fuse.js';
import type { VelocityNet } from '../../src/fusion/flow/model.js';
import { luminance } from '../../src/fusion/colour.js';
import { makeImage, type Image } from '../../src/fusion/image.js';
import { DEFAULT_WEIGHTS, greyTriple, rawScores, scoreWith, tableMetrics, type Bounds, type Task } from '../../src/fusion/pseudo/selection.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { candidatePool, pairPoolBounds } from '../../src/io/candidates.js';
import { gitCommit } from '../../src/io/provenance.js';
import { Dataset, DEFAULT_DATASETS, type PairEntry } from '../../src/io/dataset.js';
import { holdOutPairs, STUDY_TASKS, studyData, studyTrainConfig } from './continual-setup.js';
import { mean, transferMetrics, writeContinualReport, type VariantResult } from './continual-report.js';

const { values } = benchArgs(import.meta.url, { options: {
  labels: { type: 'string', default: 'runs/labels' }, steps: { type: 'string', default: '100' }, out: { type: 'string', default: 'bench/results/continual' },
  only: { type: 'string' }, net: { type: 'string', default: 'small' }, batch: { type: 'string', default: '4' }, crop: { type: 'string', default: '48' },
  'fisher-samples': { type: 'string', default: '32' }, seed: { type: 'string', default: '1' }, 'eval-cache': { type: 'string' }, 'prepare-only': { type: 'boolean', default: false },
  'probe-seconds': { type: 'string' }, 'val-pairs': { type: 'string', default: '0' },
} });
// ';'-separated, since variant names hold commas
const only = values.only ? new Set(values.only.split(';')) : null;
const steps = Number(values.steps);
const rt = await getNodeRuntime();
useRuntime(rt);
const TASKS = STUDY_TASKS;
const CROP = 128;

// evaluation crops (luminance) and their candidate-pool bounds, computed once or read from a cache
interface EvalPair { name: string; a: Image; b: Image; bounds: Bounds }
type EvalSets = Map<Task, EvalPair[]>;
/** 128x128 centre crops of the given pairs (by task) and their pool bounds, cropped identically. */
async function buildEvalSets(pairsOf: (task: Task) => { ds: Dataset; pair: PairEntry }[]): Promise<EvalSets> {
  const sets: EvalSets = new Map();
  const pools = new Map<string, ReturnType<typeof candidatePool>>();
  for (const task of TASKS) {
    const pairs: EvalPair[] = [];
    for (const { ds, pair } of pairsOf(task)) {
      if (!pools.has(ds.id)) pools.set(ds.id, candidatePool(ds, { published: true, classical: true, folders: [] }));
      const full = await ds.readPair(pair);
      const crop = windowAt((full.a.width - CROP) >> 1, (full.a.height - CROP) >> 1, CROP);
      // luminance crops: what the net sees, and (8-bit grey conversion aside) what the metrics see
      const a = makeImage(CROP, CROP, [luminance(applyCrop(full.a, crop))]);
      const b = makeImage(CROP, CROP, [luminance(applyCrop(full.b, crop))]);
      const metrics = tableMetrics(DEFAULT_WEIGHTS[task]);
      pairs.push({ name: `${ds.id}/${pair.name}`, a, b, bounds: await pairPoolBounds(pools.get(ds.id)!, pair.name, full, { a, b }, metrics, crop) });
    }
    sets.set(task, pairs);
    console.error(`eval set ${task}: ${pairs.length} crops`);
  }
  return sets;
}
/**
 * The sets read from `file` (names, bounds, offsets) and `<file>.bin` (the crops' float32 planes)
 * where they exist, else built and, with a file named, written there.
 */
async function cachedEvalSets(file: string | undefined, build: () => Promise<EvalSets>): Promise<EvalSets> {
  if (file && existsSync(file)) {
    const cache = JSON.parse(readFileSync(file, 'utf8')) as Record<Task, { name: string; offset: number; bounds: Bounds }[]>;
    const bin = readFileSync(`${file}.bin`);
    const plane = (offset: number) => new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + CROP * CROP * 4));
    return new Map(TASKS.map((task) => [task, cache[task].map((p) => ({ name: p.name, a: makeImage(CROP, CROP, [plane(p.offset)]), b: makeImage(CROP, CROP, [plane(p.offset + CROP * CROP * 4)]), bounds: p.bounds }))]));
  }
  const sets = await build();
  if (file) {
    const planes: Float32Array[] = [];
    const cache = Object.fromEntries([...sets].map(([t, ps]) => [t, ps.map((p) => {
      planes.push(p.a.planes[0]!, p.b.planes[0]!);
      return { name: p.name, offset: (planes.length - 2) * CROP * CROP * 4, bounds: p.bounds };
    })]));
    writeFileSync(file, JSON.stringify(cache));
    writeFileSync(`${file}.bin`, Buffer.concat(planes.map((q) => Buffer.from(q.buffer, q.byteOffset, q.byteLength))));
    console.error(`wrote ${file}`);
  }
  return sets;
}
// test: up to 6 pairs per task from the start of the test split (MIF: 2 from each medical set)
const evalSets = await cachedEvalSets(values['eval-cache'], () => buildEvalSets((task) => {
  const ids = DEFAULT_DATASETS[task];
  return ids.flatMap((id) => {
    const ds = new Dataset(id);
    return ds.split('test').slice(0, Math.ceil(6 / ids.length)).map((pair) => ({ ds, pair }));
  });
}));
// validation: --val-pairs training pairs per task, held out of every run's training
const valPairs = Number(values['val-pairs']);
// the test crops alone need no training data (a machine preparing the cache may have no labels)
if (values['prepare-only'] && valPairs === 0) process.exit(0);
const held = holdOutPairs(await studyData(values.labels!), valPairs);
const byTask = held.train;
const valSets = valPairs > 0 ? await cachedEvalSets(values['eval-cache']?.replace(/(\.json)?$/, `.val${valPairs}.json`), () => buildEvalSets((task) => held.val.get(task)!.map((t) => {
  const cut = t.name.lastIndexOf('/');
  const ds = new Dataset(t.name.slice(0, cut));
  const pair = ds.split('train').find((p) => p.name === t.name.slice(cut + 1));
  if (!pair) throw new Error(`validation pair ${t.name} is not in the train split`);
  return { ds, pair };
}))) : null;
// a cache made with other labels or another split would hold other pairs
if (valSets) for (const task of TASKS) {
  const want = held.val.get(task)!.map((t) => t.name).join(', ');
  const got = valSets.get(task)!.map((p) => p.name).join(', ');
  if (want !== got) throw new Error(`validation cache for ${task} holds ${got}, but the held-out pairs are ${want}`);
}
if (values['prepare-only']) process.exit(0);

/** the study's two scores: the task composite and one bounded named metric of the same outputs */
type Scores = [composite: number, named: number];
// Qabf is in every task's table and lies in [0, 1]: unlike the composite it cannot swing by whole
// units when a pair's pool spans a narrow range (e.g. MEF-SSIM 0.977 .. 0.997 on ICCV_01)
const NAMED = 'Qabf';
async function score(net: VelocityNet, task: Task, sets: EvalSets = evalSets): Promise<Scores> {
  const metrics = tableMetrics(DEFAULT_WEIGHTS[task]);
  const k = metrics.indexOf(NAMED);
  if (k < 0) throw new Error(`${task}: the metric table has no ${NAMED}`);
  let s = 0, q = 0;
  const set = sets.get(task)!;
  for (const p of set) {
    const y = await fuseLuminance(net, luminance(p.a), luminance(p.b), CROP, CROP, { steps: 1, task });
    const f = makeImage(CROP, CROP, [y]);
    const raw = rawScores(greyTriple(p.a, p.b, f), metrics);
    s += scoreWith(p.bounds, 'model', raw, metrics, DEFAULT_WEIGHTS[task]).composite;
    q += raw[k]!;
  }
  return [s / set.length, q / set.length];
}
const column = (xs: Scores[], i: 0 | 1) => xs.map((x) => x[i]);

const train = studyTrainConfig(values);
// runs that held pairs out trained on less data: the record says so, and merging refuses to mix them with full runs
const trainRecord = valPairs > 0 ? { ...train, held_out_per_task: valPairs } : train;
interface Variant { name: string; ewcLambda: number; replaySize: number; group: string; fisherScale?: 'tensor' }
const L = 1;
const CHOSEN = DEFAULT_CONTINUAL.ewcLambda;
const Q = 64;
const variants: Variant[] = [
  { name: 'fine-tuning', ewcLambda: 0, replaySize: 0, group: 'main' },
  { name: 'EWC', ewcLambda: L, replaySize: 0, group: 'main' },
  { name: 'replay', ewcLambda: 0, replaySize: Q, group: 'main' },
  { name: 'EWC + replay', ewcLambda: L, replaySize: Q, group: 'main' },
  ...[16, 32, 128, 256].map((q) => ({ name: `EWC + replay, size ${q}`, ewcLambda: L, replaySize: q, group: 'replay sweep' })),
  // the same sweep at the lambda chosen on validation pairs (continual-select.ts), which
  // `fusionfm train` and the bundled checkpoint use
  ...[16, 32, 128, 256].map((q) => ({ name: `EWC + replay, lambda ${CHOSEN}, size ${q}`, ewcLambda: CHOSEN, replaySize: q, group: 'replay sweep' })),
  ...[0.1, 10, 100].map((l) => ({ name: `EWC, lambda ${l}`, ewcLambda: l, replaySize: 0, group: 'lambda sweep' })),
  ...[0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 10].map((l) => ({ name: `EWC + replay, lambda ${l}`, ewcLambda: l, replaySize: Q, group: 'lambda sweep' })),
  // the Fisher scaled to mean 1 per tensor instead of over the whole net (nn/fisher.ts says why)
  ...[0.01, 0.1, 1].map((l) => ({ name: `EWC + replay, Fisher per tensor, lambda ${l}`, ewcLambda: l, replaySize: Q, group: 'Fisher per tensor', fisherScale: 'tensor' as const })),
  { name: 'EWC, Fisher per tensor', ewcLambda: L, replaySize: 0, group: 'Fisher per tensor', fisherScale: 'tensor' as const },
].filter((v) => !only || only.has(v.name));

/** A variant's training settings with the study's per-task budget (the replay buffer split equally over the tasks). */
const configOf = (v: Variant, stepsPerTask: number): ContinualConfig => ({
  tasks: TASKS, stepsPerTask, ewcLambda: v.ewcLambda, fisherSamples: Number(values['fisher-samples']),
  replayQuota: Math.floor(v.replaySize / TASKS.length), replayRatio: v.replaySize ? 0.25 : 0, ...(v.fisherScale ? { fisherScale: v.fisherScale } : {}),
});

if (values['probe-seconds'] !== undefined) await probe(Number(values['probe-seconds']), variants[0] ?? { name: 'single', ewcLambda: 0, replaySize: 0, group: 'main' });
/** Times training steps for `seconds` (after three warm-up steps that compile the pipelines) and one evaluation row, then exits. */
async function probe(seconds: number, v: Variant): Promise<never> {
  if (!(seconds > 0)) throw new Error(`--probe-seconds: expected a positive number, got ${values['probe-seconds']}`);
  const setupS = performance.now() / 1000;
  // one task that does not end within the probe, so no Fisher is estimated
  const ct = new ContinualTrainer(train, configOf(v, 1e6), byTask);
  const warm = 3;
  await ct.trainer.run(warm, () => {});
  const t = performance.now();
  let n = warm;
  while (performance.now() - t < seconds * 1000) await ct.trainer.run(++n, () => {});
  const stepMs = (performance.now() - t) / (n - warm);
  const te = performance.now();
  for (const task of TASKS) await score(ct.trainer.net, task);
  const evalRowS = (performance.now() - te) / 1000;
  ct.dispose();
  console.log(JSON.stringify({ probe: v.name, adapter: rt.adapter.name, net: values.net, batch: train.batch, crop: train.crop, ewc_lambda: v.ewcLambda, fisher_samples: Number(values['fisher-samples']), steps_timed: n - warm, step_ms: stepMs, eval_row_s: evalRowS, setup_s: setupS }));
  rt.destroy();
  process.exit(0);
}

// per variant, R under each score
const results: { v: Variant; R: Scores[][]; RV: number[][]; seconds: number }[] = [];
const commit = gitCommit();
const t0 = performance.now();
// b_j: the untrained net
const init = new ContinualTrainer(train, { tasks: TASKS, stepsPerTask: steps, ewcLambda: 0, fisherSamples: 1, replayQuota: 0, replayRatio: 0 }, byTask);
const base: Scores[] = [];
for (const t of TASKS) base.push(await score(init.trainer.net, t));
const baseVal: number[] = [];
if (valSets) for (const t of TASKS) baseVal.push((await score(init.trainer.net, t, valSets))[0]);
init.dispose();
// single-task references: a fresh net per task with the same per-task budget
const single: Scores[] = [];
if (!only || only.has('single')) for (const t of TASKS) {
  const ct = new ContinualTrainer(train, { tasks: [t], stepsPerTask: steps, ewcLambda: 0, fisherSamples: 1, replayQuota: 0, replayRatio: 0 }, byTask);
  await ct.run(() => {});
  single.push(await score(ct.trainer.net, t));
  ct.dispose();
  console.error(`single-task ${t}: ${single.at(-1)!.map((x) => x.toFixed(4)).join(' ')}`);
}
if (only?.has('single')) write();
/** One report of the runs so far: R of each variant from rOf, with transfer metrics against `untrained` and ACC against the single-task mean where there is one. */
function writeReport(dir: string, tag: { score?: string; split?: 'validation' }, sets: EvalSets, untrained: number[], singleTask: number[], rOf: (r: (typeof results)[number]) => number[][]): string {
  const singleMean = singleTask.length ? mean(singleTask) : null;
  return writeContinualReport(dir, {
    bench: 'continual', adapter: rt.adapter.name, commit, command: `node dist/bench/continual/continual.js ${process.argv.slice(2).join(' ')}`, ...tag,
    tasks: [...TASKS], steps_per_task: steps, train: trainRecord, eval: { crop: CROP, pairs: Object.fromEntries([...sets].map(([k, v]) => [k, v.map((p) => p.name)])) },
    untrained, single_task: singleTask, single_task_mean: singleMean, seconds: (performance.now() - t0) / 1000,
    variants: results.map((r): VariantResult => {
      const R = rOf(r);
      const m = transferMetrics(R, untrained);
      return { variant: r.v.name, seed: train.seed, group: r.v.group, ewc_lambda: r.v.ewcLambda, replay_size: r.v.replaySize, R, ...m, acc_vs_single: singleMean === null ? null : m.ACC / singleMean, seconds: r.seconds };
    }),
  });
}
function write(): void {
  // the sub-reports first, so that the composite report can point to them: the composite on the
  // held-out training pairs (what bench/continual/continual-select.ts chooses by), the named metric on the test pairs
  if (valSets) writeReport(join(values.out!, 'validation'), { split: 'validation' }, valSets, baseVal, [], (r) => r.RV);
  writeReport(join(values.out!, NAMED.toLowerCase()), { score: NAMED }, evalSets, column(base, 1), column(single, 1), (r) => r.R.map((row) => column(row, 1)));
  console.log(writeReport(values.out!, {}, evalSets, column(base, 0), column(single, 0), (r) => r.R.map((row) => column(row, 0))));
}
for (const v of variants) {
  const ct = new ContinualTrainer(train, configOf(v, steps), byTask);
  const R: Scores[][] = [];
  const RV: number[][] = [];
  const tv = performance.now();
  await ct.run(() => {}, undefined, async () => {
    const row: Scores[] = [];
    for (const t of TASKS) row.push(await score(ct.trainer.net, t));
    R.push(row);
    if (valSets) {
      const vrow: number[] = [];
      for (const t of TASKS) vrow.push((await score(ct.trainer.net, t, valSets))[0]);
      RV.push(vrow);
    }
    // in the log as it comes, so that a run cut short still shows the rows it finished
    console.error(`${v.name}: after ${TASKS[R.length - 1]}: ${row.map((x) => x.map((y) => y.toFixed(4)).join('/')).join(' ')} (${((performance.now() - tv) / 1000).toFixed(0)} s)`);
  });
  ct.dispose();
  results.push({ v, R, RV, seconds: (performance.now() - tv) / 1000 });
  const m = transferMetrics(R.map((row) => column(row, 0)), column(base, 0));
  const mq = transferMetrics(R.map((row) => column(row, 1)), column(base, 1));
  console.error(`${v.name}: composite ACC ${m.ACC.toFixed(4)} BWT ${m.BWT.toFixed(4)} FWT ${m.FWT.toFixed(4)}; ${NAMED} ACC ${mq.ACC.toFixed(4)} BWT ${mq.BWT.toFixed(4)}`);
  write();
}
rt.destroy();
