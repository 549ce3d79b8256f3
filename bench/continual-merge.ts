/**
 * Merges results of bench/continual.ts run as several processes (--only) into one report:
 * the untrained scores must agree (same seed, same evaluation crops), the single-task
 * references come from the run that made them, variants keep the study's order.
 *
 *   node dist/bench/continual-merge.js --out bench/results/continual-<adapter> dirA dirB ...
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeContinualReport, type ContinualResults } from './continual-report.js';

const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true });
if (!values.out || !positionals.length) throw new Error('usage: continual-merge --out <dir> <result dir>...');
const parts = positionals.map((d) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')) as ContinualResults);
const first = parts[0]!;
for (const p of parts) {
  if (p.adapter !== first.adapter || p.steps_per_task !== first.steps_per_task || JSON.stringify(p.train) !== JSON.stringify(first.train)) {
    throw new Error(`${p.command}: another adapter or training setting than ${first.command}`);
  }
  if (p.untrained.some((x, i) => Math.abs(x - first.untrained[i]!) > 1e-6)) throw new Error(`${p.command}: untrained scores differ (${p.untrained} vs ${first.untrained})`);
}
const single = parts.find((p) => p.single_task.length)?.single_task ?? [];
const singleMean = single.length ? single.reduce((s, x) => s + x, 0) / single.length : null;
const order = ['main', 'replay sweep', 'lambda sweep'];
const variants = parts.flatMap((p) => p.variants)
  .sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group) || a.replay_size - b.replay_size || a.ewc_lambda - b.ewc_lambda)
  .map((v) => ({ ...v, acc_vs_single: singleMean === null ? null : v.ACC / singleMean }));
const merged: ContinualResults = {
  ...first, command: `${parts.map((p) => p.command).join(' & ')}; node dist/bench/continual-merge.js ${process.argv.slice(2).join(' ')}`,
  single_task: single, single_task_mean: singleMean, variants, seconds: Math.max(...parts.map((p) => p.seconds)),
};
console.log(writeContinualReport(values.out, merged));
