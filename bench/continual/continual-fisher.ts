/**
 * Where the EWC penalty's weight lies: trains the continual study's net on its first task (the
 * study's settings), estimates that task's diagonal Fisher as the study does, and reports how the
 * mass of the mean-1 Fisher spreads over parameter tensors and over single parameters, and what a
 * lambda makes of the stiffest ones. JSON and markdown to --out.
 *
 *   node dist/bench/continual/continual-fisher.js [--labels runs/labels] [--net small|default] [--steps 200]
 *        [--fisher-samples 32] [--seed 1] [--out bench/results/continual/fisher-<net>]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { ContinualTrainer } from '../../src/fusion/flow/continual.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { gitCommit } from '../../src/io/provenance.js';
import { STUDY_TASKS, studyData, studyTrainConfig } from './continual-setup.js';

const { values } = benchArgs(import.meta.url, { options: {
  labels: { type: 'string', default: 'runs/labels' }, net: { type: 'string', default: 'small' }, steps: { type: 'string', default: '200' },
  batch: { type: 'string', default: '4' }, crop: { type: 'string', default: '48' }, 'fisher-samples': { type: 'string', default: '32' },
  seed: { type: 'string', default: '1' }, out: { type: 'string' },
} });
const rt = await getNodeRuntime();
useRuntime(rt);
const train = studyTrainConfig(values);
const steps = Number(values.steps);
const task = STUDY_TASKS[0]!;
const ct = new ContinualTrainer(train, { tasks: [task], stepsPerTask: steps, ewcLambda: 1, fisherSamples: Number(values['fisher-samples']), replayQuota: 0, replayRatio: 0 }, await studyData(values.labels!));
await ct.trainer.run(steps, () => {});
const fisher = await ct.estimateTaskFisher();

// the mean-1 scale the penalty uses
const tensors: { name: string; size: number; values: Float32Array }[] = [];
for (const [name, p] of ct.trainer.net.namedParameters()) tensors.push({ name, size: p.size, values: await fisher.get(p)!.data() });
const all = new Float64Array(tensors.reduce((n, t) => n + t.size, 0));
let k = 0;
for (const t of tensors) for (const x of t.values) all[k++] = x;
const rawMean = all.reduce((s, x) => s + x, 0) / all.length;
for (let i = 0; i < all.length; i++) all[i]! /= rawMean;
all.sort().reverse();
const total = all.length; // the mean-1 values sum to the parameter count
const holding = (share: number) => { let c = 0; for (let i = 0; i < all.length; i++) if ((c += all[i]!) >= share * total) return i + 1; return all.length; };
const quantile = (q: number) => all[Math.min(all.length - 1, Math.floor(q * all.length))]!;
const byTensor = tensors.map((t) => {
  const sum = t.values.reduce((s, x) => s + x, 0) / rawMean;
  return { tensor: t.name, parameters: t.size, share: sum / total, mean: sum / t.size, max: t.values.reduce((m, x) => Math.max(m, x), 0) / rawMean };
}).sort((a, b) => b.share - a.share);
const result = {
  bench: 'continual-fisher', adapter: rt.adapter.name, commit: gitCommit(), command: `node dist/bench/continual/continual-fisher.js ${process.argv.slice(2).join(' ')}`,
  net: values.net, task, steps, fisher_samples: Number(values['fisher-samples']), parameters: total, raw_mean: rawMean,
  holding: Object.fromEntries([0.5, 0.9, 0.99].map((s) => [String(s), holding(s)])),
  quantiles: Object.fromEntries([0, 0.001, 0.01, 0.1, 0.5, 0.9].map((q) => [String(q), quantile(q)])),
  tensors: byTensor,
};
const pct = (x: number) => `${(100 * x).toFixed(x < 0.001 ? 3 : 1)}%`;
const md = [
  `# Where the EWC penalty's weight lies (${values.net} net, ${task})`, '',
  `Adapter ${rt.adapter.name}; commit ${result.commit}; command \`${result.command}\`.`, '',
  `Diagonal Fisher of the flow-matching loss after ${steps} steps of ${task}, ${result.fisher_samples} samples, scaled to mean 1 as the penalty uses it (raw mean ${rawMean.toExponential(3)}). ${total} parameters.`, '',
  `- Half of the Fisher mass lies in ${result.holding['0.5']} parameters (${pct(result.holding['0.5']! / total)}), 90% in ${result.holding['0.9']} (${pct(result.holding['0.9']! / total)}), 99% in ${result.holding['0.99']} (${pct(result.holding['0.99']! / total)}).`,
  `- Largest value ${quantile(0).toExponential(2)}; top 0.1% above ${quantile(0.001).toExponential(2)}, top 1% above ${quantile(0.01).toExponential(2)}, top 10% above ${quantile(0.1).toExponential(2)}; median ${quantile(0.5).toExponential(2)}.`,
  `- With penalty lambda F (p - anchor), lambda = 0.01 gives the stiffest parameter a spring of ${(0.01 * quantile(0)).toExponential(2)} and the median one ${(0.01 * quantile(0.5)).toExponential(2)}.`, '',
  '| tensor | parameters | share of the mass | mean | max |', '|---|---|---|---|---|',
  ...byTensor.slice(0, 12).map((t) => `| ${t.tensor} | ${t.parameters} | ${pct(t.share)} | ${t.mean.toExponential(2)} | ${t.max.toExponential(2)} |`), '',
];
const out = values.out ?? `bench/results/continual/fisher-${values.net}`;
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'results.json'), JSON.stringify(result, null, 1) + '\n');
writeFileSync(join(out, 'results.md'), md.join('\n'));
console.log(md.join('\n'));
for (const f of fisher.values()) f.dispose();
ct.dispose();
rt.destroy();
