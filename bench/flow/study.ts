/**
 * The training study of issue 20: quality against training steps, per net size and recipe,
 * judged on a validation split carved from the train pairs (what choices are made by) and
 * reported on the test split beside it (never used to choose).
 *
 *   node dist/bench/flow/study.js --task ivf --labels <labels root | candidate:<m> | classical:<f>>
 *        [--data ivf/VIFB] [--configs name:key=value+key=value,...] [--evals 250,500,1000,2000,4000,8000]
 *        [--val-pairs 2] [--test-pairs 0] [--out bench/results/study-ivf] [--runs runs/study-ivf] [--resume]
 *        [--bounds-dir runs/bounds] [--prepare-only]
 *
 * A config is a net and a recipe: keys net (default | small | tiny), head (velocity | blend), steps (the run's length:
 * its schedule spans it), batch, crop, lr, warmup (a fraction of steps), ema (a decay, or 'auto':
 * 1 - 10 / steps, capped to 0.9999), coupling, seed, margin (crop border pixels left out of the
 * loss: context, as fusion gives at inference), grad (weight of the loss's edge term), gate (the source gate in
 * grey levels: the velocity fades out where both sources are black; off unless given), swap (1: crops exchange
 * sources A and B at random, for tasks whose sources have no fixed roles). Each config is one training run from
 * scratch, evaluated (EMA weights, one Euler step, full-size pairs) at every --evals step it
 * reaches; the learning rate follows warm-up then cosine over the whole run, so an early point
 * is a model mid-schedule, not a short run of its own. Every evaluation point saves the run's
 * state, and --resume continues each config from its last point: the study runs for hours in
 * the background and survives interruptions.
 *
 * Per point: the task composite (each metric min-max normalised over the pair's pool of
 * published + classical results, 1 = the pool's best on every metric), VIF, Qabf, SSIM, MI, SCD,
 * PSNR, and the intensity bias: the mean absolute difference, in grey levels, between the mean
 * luminance of the fused image and of its label (validation pairs; test pairs where the label
 * source covers them). Plus training seconds, so quality per CPU-hour can be read off.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { labelImage, loadTriples } from '../../src/cli/train.js';
import { luminance } from '../../src/fusion/colour.js';
import { fuseImages } from '../../src/fusion/flow/fuse.js';
import { checkGateApplies, checkHead, checkSourceGate, DEFAULT_VELOCITY, type VelocityConfig } from '../../src/fusion/flow/model.js';
import { checkCoupling } from '../../src/fusion/flow/path.js';
import { DEFAULT_TRAIN, FlowTrainer, type TrainConfig, type TrainerMeta, type Triple } from '../../src/fusion/flow/trainer.js';
import type { Image } from '../../src/fusion/image.js';
import { getMetric, metricInput } from '../../src/fusion/metrics/index.js';
import { DEFAULT_WEIGHTS, greyTriple, rawScores, scoreWith, tableMetrics, type Bounds, type Task } from '../../src/fusion/pseudo/selection.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { candidatePool, pairPoolBounds } from '../../src/io/candidates.js';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../../src/io/checkpoint.js';
import { Dataset, heldOutIndices, type PairEntry } from '../../src/io/dataset.js';
import { adapterSlug, gitCommit } from '../../src/io/provenance.js';

const NETS: Record<string, VelocityConfig> = {
  default: DEFAULT_VELOCITY,
  small: { ...DEFAULT_VELOCITY, baseChannels: 8, heads: 2, groups: 4, timeDim: 16 },
  tiny: { ...DEFAULT_VELOCITY, baseChannels: 4, heads: 1, groups: 2, timeDim: 8 },
};

const { values } = benchArgs(import.meta.url, { options: {
  task: { type: 'string', default: 'ivf' }, data: { type: 'string' }, labels: { type: 'string' },
  configs: { type: 'string', default: 'default:net=default' }, evals: { type: 'string', default: '250,500,1000,2000,4000,8000' },
  'val-pairs': { type: 'string', default: '2' }, 'test-pairs': { type: 'string', default: '0' },
  out: { type: 'string' }, runs: { type: 'string' }, resume: { type: 'boolean', default: false },
  // pool bounds per pair are cached here; --prepare-only fills the cache and stops (for a GPU machine without the candidate folders)
  'bounds-dir': { type: 'string', default: join('runs', 'bounds') }, 'prepare-only': { type: 'boolean', default: false },
} });
const task = values.task as Task;
if (!(task in DEFAULT_WEIGHTS)) throw new Error(`--task: expected ivf, mif, mef or mff, got ${values.task}`);
if (!values.labels) throw new Error('--labels is required (a labels root, candidate:<method> or classical:<fuser>)');
const data = values.data ?? { ivf: 'ivf/VIFB', mif: 'mif/CDDFuse_MRI-CT', mef: 'mef/MEFB', mff: 'mff/Lytro' }[task];
const out = values.out ?? `bench/results/study-${task}`;
const runsDir = values.runs ?? `runs/study-${task}`;
const evals = values.evals!.split(',').map(Number).sort((x, y) => x - y);
if (evals.some((e) => !Number.isInteger(e) || e < 1)) throw new Error(`--evals: expected positive integers, got ${values.evals}`);

interface Config { name: string; net: string; train: TrainConfig }

/** 'name:key=value+key=value' -> a named training configuration (defaults: the shipped recipe). */
function parseConfig(spec: string): Config {
  const [name, body = ''] = spec.split(':');
  if (!name || !/^[\w.-]+$/.test(name)) throw new Error(`--configs: '${spec}' needs a name of letters, digits, '.', '_' or '-'`);
  const kv = Object.fromEntries(body.split('+').filter(Boolean).map((p) => p.split('=') as [string, string]));
  const known = ['net', 'head', 'steps', 'batch', 'crop', 'lr', 'warmup', 'ema', 'coupling', 'seed', 'margin', 'grad', 'gate', 'swap'];
  for (const k of Object.keys(kv)) if (!known.includes(k)) throw new Error(`--configs ${name}: unknown key '${k}' (known: ${known.join(', ')})`);
  const net = kv.net ?? 'default';
  if (!NETS[net]) throw new Error(`--configs ${name}: net must be ${Object.keys(NETS).join(', ')}, got ${net}`);
  const steps = Number(kv.steps ?? evals[evals.length - 1]);
  const ema = kv.ema === undefined || kv.ema === 'auto' ? Math.min(0.9999, 1 - 10 / steps) : Number(kv.ema);
  const train: TrainConfig = {
    ...DEFAULT_TRAIN, model: {
      ...NETS[net]!, ...(kv.head ? { head: checkHead(kv.head, `--configs ${name}`) } : {}),
      // gate (grey levels): the source gate, off unless given, so that older study configs mean what they meant
      ...(kv.gate !== undefined ? { sourceGate: checkSourceGate(Number(kv.gate), `--configs ${name}`) } : {}),
    }, steps,
    batch: Number(kv.batch ?? DEFAULT_TRAIN.batch), crop: Number(kv.crop ?? DEFAULT_TRAIN.crop), lr: Number(kv.lr ?? DEFAULT_TRAIN.lr),
    warmup: Math.max(1, Math.round(Number(kv.warmup ?? 0.05) * steps)), emaDecay: ema,
    coupling: checkCoupling(kv.coupling ?? 'sum'), seed: Number(kv.seed ?? 1),
    ...(kv.margin !== undefined ? { lossMargin: Number(kv.margin) } : {}),
    ...(kv.grad !== undefined ? { gradLoss: Number(kv.grad) } : {}),
    // swap=1: crops exchange A and B at random (TrainConfig.swapSources), for the task studied
    ...(kv.swap === '1' ? { swapSources: [task] } : {}),
  };
  if (kv.swap !== undefined && kv.swap !== '0' && kv.swap !== '1') throw new Error(`--configs ${name}: swap must be 0 or 1, got ${kv.swap}`);
  checkGateApplies(train.model.sourceGate ?? 0, 'flow', train.coupling, `--configs ${name}`);
  for (const [k, v] of Object.entries({ steps, batch: train.batch, crop: train.crop, lr: train.lr, ema, seed: train.seed })) {
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--configs ${name}: ${k} must be a positive number, got ${v}`);
  }
  return { name, net, train };
}
const configs = values.configs!.split(',').map(parseConfig);

const rt = await getNodeRuntime();
useRuntime(rt);
const ds = new Dataset(data);
const weights = DEFAULT_WEIGHTS[task];
const selMetrics = tableMetrics(weights);
const metrics = [getMetric('VIF', 'cddfuse'), getMetric('Qabf', 'vifb'), getMetric('SSIM', 'cddfuse'), getMetric('MI', 'cddfuse'), getMetric('SCD', 'cddfuse'), getMetric('PSNR', 'cddfuse')];

// validation: k training pairs spread over the split, held out of training (as the continual study does)
const { triples, hash } = await loadTriples({ data, labels: values.labels });
const k = Number(values['val-pairs']);
const picked = heldOutIndices(triples.length, k, '--val-pairs');
const trainSet = triples.filter((_, i) => !picked.has(i));
const valNames = new Set(triples.filter((_, i) => picked.has(i)).map((t) => t.name.split('/').pop()!));
const valPairs = ds.split('train').filter((p) => valNames.has(p.name));
const testAll = ds.split('test');
const testPairs = Number(values['test-pairs']) > 0 ? testAll.slice(0, Number(values['test-pairs'])) : testAll;

/** pool bounds per pair, cached (computing them is most of a first run's CPU time) */
async function boundsFor(split: string, p: PairEntry, a: Image, b: Image): Promise<Bounds> {
  const path = join(values['bounds-dir']!, `${ds.id.replace(/\//g, '-')}-${split}.json`);
  const cache: Record<string, Bounds> = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  if (!cache[p.name]) {
    cache[p.name] = await pairPoolBounds(candidatePool(ds, { published: true, classical: true, folders: [] }), p.name, { a, b }, { a, b }, selMetrics);
    mkdirSync(values['bounds-dir']!, { recursive: true });
    writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(cache, null, 1)));
  }
  return cache[p.name]!;
}

interface Point { config: string; step: number; train_s: number; split: 'val' | 'test'; pairs: number; composite: number; means: Record<string, number>; bias_grey_levels: number | null }
const resultsPath = join(out, 'results.json');
const points: Point[] = values.resume && existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')).points : [];
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

async function evaluate(c: Config, trainer: FlowTrainer, step: number, trainS: number): Promise<void> {
  // the EMA weights are what a run ships: swap them in for the evaluation, then back
  const params = trainer.net.parameters();
  const live = await Promise.all(params.map((p) => p.data()));
  const shadow = await Promise.all(trainer.ema.shadow.map((s) => s.data()));
  params.forEach((p, i) => p.write(shadow[i]!));
  for (const [split, pairs] of [['val', valPairs], ['test', testPairs]] as const) {
    const comp: number[] = [];
    const ms: number[][] = [];
    const bias: number[] = [];
    for (const p of pairs) {
      const { a, b } = await ds.readPair(p);
      const f = await fuseImages(trainer.net, a, b, { steps: 1, coupling: c.train.coupling, task });
      const bounds = await boundsFor(split === 'val' ? 'train' : 'test', p, a, b);
      comp.push(scoreWith(bounds, c.name, rawScores(greyTriple(a, b, f), selMetrics), selMetrics, weights).composite);
      const input = metricInput(a, b, f);
      ms.push(metrics.map((m) => m.compute(input)));
      const label = await labelImage(ds, values.labels!, p.name, a, b).catch(() => null);
      if (label) bias.push(255 * Math.abs(mean(Array.from(luminance(f))) - mean(Array.from(luminance(label)))));
    }
    points.push({
      config: c.name, step, train_s: Math.round(trainS), split, pairs: pairs.length, composite: mean(comp),
      means: Object.fromEntries(metrics.map((m, i) => [m.id, mean(ms.map((r) => r[i]!))])), bias_grey_levels: bias.length ? mean(bias) : null,
    });
  }
  params.forEach((p, i) => p.write(live[i]!));
  writeReport();
}

function writeReport(): void {
  mkdirSync(out, { recursive: true });
  const meta = {
    bench: 'flow-study', task, dataset: ds.id, labels: values.labels, data_hash: hash, adapter: rt.adapter.name, commit: gitCommit(),
    command: `node dist/bench/flow/study.js ${process.argv.slice(2).join(' ')}`,
    validation_pairs: [...valNames], test_pairs: testPairs.map((p) => p.name),
    configs: Object.fromEntries(configs.map((c) => [c.name, { net: c.net, ...c.train, model: c.train.model }])),
    composite_definition: `weighted mean of ${selMetrics.join(', ')} normalised per pair over the pool (published + classical)`,
  };
  writeFileSync(resultsPath, JSON.stringify({ ...meta, points }, null, 1) + '\n');
  const f = (v: number | null) => (v === null || !Number.isFinite(v) ? '-' : Number(v.toPrecision(3)).toString());
  const ids = metrics.map((m) => m.id);
  const md = [
    `# Training study: ${task} (${ds.id})`, '',
    `Adapter ${meta.adapter}; commit ${meta.commit}. Command: \`${meta.command}\`.`, '',
    `Validation: ${valPairs.length} train pairs held out (${meta.validation_pairs.join(', ')}); test: ${testPairs.length} pairs. Composite: ${meta.composite_definition}. Bias: |mean luminance of the fused image - of its label| in grey levels. One Euler step, EMA weights, full-size pairs.`, '',
    `| config | step | train s | split | composite | ${ids.join(' | ')} | bias |`,
    `|---|---|---|---|---|${ids.map(() => '---').join('|')}|---|`,
    ...points.map((p) => `| ${p.config} | ${p.step} | ${p.train_s} | ${p.split} | ${f(p.composite)} | ${ids.map((i) => f(p.means[i]!)).join(' | ')} | ${f(p.bias_grey_levels)} |`),
    '', '![composite against steps](composite.svg)', '',
  ];
  writeFileSync(join(out, 'results.md'), md.join('\n'));
  writeFileSync(join(out, 'composite.svg'), plot());
}

/** composite against steps (log x): one colour per config, validation solid, test dashed */
function plot(): string {
  const W = 640, H = 320, L = 50, R = 150, T = 20, B = 40;
  const steps = points.map((p) => p.step);
  const ys = points.map((p) => p.composite);
  if (!points.length) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"/>\n`;
  const [x0, x1] = [Math.log(Math.min(...steps)), Math.log(Math.max(...steps) * 1.0001)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(1, ...ys)];
  const sx = (s: number) => L + ((W - L - R) * (Math.log(s) - x0)) / Math.max(1e-9, x1 - x0);
  const sy = (v: number) => T + ((H - T - B) * (y1 - v)) / (y1 - y0);
  const colours = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4d7c0f', '#be185d'];
  const lines: string[] = [];
  configs.forEach((c, i) => {
    for (const split of ['val', 'test'] as const) {
      const ps = points.filter((p) => p.config === c.name && p.split === split).sort((a, b) => a.step - b.step);
      if (!ps.length) continue;
      lines.push(`<path d="${ps.map((p, j) => `${j ? 'L' : 'M'}${sx(p.step).toFixed(1)},${sy(p.composite).toFixed(1)}`).join(' ')}" fill="none" stroke="${colours[i % colours.length]}" stroke-width="1.5"${split === 'test' ? ' stroke-dasharray="4 3"' : ''}/>`);
    }
    lines.push(`<text x="${W - R + 8}" y="${T + 14 * (i + 1)}" fill="${colours[i % colours.length]}">${c.name}</text>`);
  });
  const ticks = [...new Set(steps)].map((s) => `<text x="${sx(s).toFixed(1)}" y="${H - B + 14}" text-anchor="middle">${s}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<line x1="${L}" y1="${sy(0)}" x2="${W - R}" y2="${sy(0)}" stroke="#ccc"/><line x1="${L}" y1="${sy(1)}" x2="${W - R}" y2="${sy(1)}" stroke="#ccc"/>
<text x="4" y="${sy(1) + 4}">1.0</text><text x="4" y="${sy(0) + 4}">0.0</text>
${ticks.join('\n')}
<text x="${L}" y="${H - 6}">training steps (log); composite: validation solid, test dashed</text>
${lines.join('\n')}
</svg>
`;
}

if (values['prepare-only']) {
  for (const [split, pairs] of [['train', valPairs], ['test', testPairs]] as const) {
    for (const p of pairs) {
      const { a, b } = await ds.readPair(p);
      await boundsFor(split, p, a, b);
    }
  }
  console.log(`pool bounds of ${valPairs.length} validation and ${testPairs.length} test pairs in ${values['bounds-dir']}`);
  rt.destroy();
  process.exit(0);
}

for (const c of configs) {
  const dir = join(runsDir, c.name);
  mkdirSync(dir, { recursive: true });
  const trainer = new FlowTrainer(c.train, trainSet as Triple[]);
  trainer.task = task;
  let trainS = 0;
  const statePath = join(dir, 'state.safetensors');
  if (values.resume && existsSync(statePath)) {
    const st = loadSafetensors(statePath);
    const meta = JSON.parse(st.metadata.state!) as TrainerMeta & { train_s: number; config: TrainConfig };
    if (JSON.stringify(meta.config) !== JSON.stringify(c.train)) throw new Error(`${statePath}: written for another configuration of ${c.name}`);
    trainer.restore(st.tensors, meta, statePath);
    trainS = meta.train_s;
    console.error(`${c.name}: resumed at step ${trainer.step}`);
  }
  for (const e of evals.filter((s) => s <= c.train.steps)) {
    if (trainer.step >= e && points.some((p) => p.config === c.name && p.step === e)) continue;
    const t0 = performance.now();
    await trainer.run(e, (ev) => { if (ev.done % 50 === 0) console.error(`${c.name}: step ${ev.done}/${c.train.steps} loss ${ev.values?.loss?.toPrecision(3)}`); });
    trainS += (performance.now() - t0) / 1000;
    const st = await trainer.state();
    saveSafetensors(statePath, st.tensors, { state: JSON.stringify({ ...st.meta, train_s: trainS, config: c.train }) });
    await evaluate(c, trainer, e, trainS);
    const last = points.filter((p) => p.config === c.name && p.step === e);
    console.error(`${c.name} @ ${e} (${Math.round(trainS)} s): ${last.map((p) => `${p.split} composite ${p.composite.toFixed(3)}, bias ${p.bias_grey_levels?.toFixed(1) ?? '-'}`).join('; ')}`);
  }
  trainer.dispose();
}
console.log(`wrote ${out}/results.md, results.json, composite.svg (adapter ${adapterSlug(rt.adapter)})`);
rt.destroy();
