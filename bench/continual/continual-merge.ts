/**
 * Merges results of bench/continual/continual.ts run as several processes (--only, possibly several
 * --seed values) into one report; the rules are mergeContinualResults' (continual-report.ts).
 *
 *   node dist/bench/continual/continual-merge.js --out bench/results/continual-<adapter> [--mixed-adapters] dirA dirB ...
 * --mixed-adapters lets seeds come from different adapters (each seed from one; the report names
 * the adapter of every seed): a seed on another adapter is another trajectory, like another seed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { mergeContinualResults, writeContinualReport, type ContinualResults } from './continual-report.js';

const { values, positionals } = benchArgs(import.meta.url, { options: { out: { type: 'string' }, 'mixed-adapters': { type: 'boolean', default: false } }, allowPositionals: true });
if (!values.out || !positionals.length) throw new Error('usage: continual-merge --out <dir> <result dir>...');
const read = (d: string) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')) as ContinualResults;
const parts = positionals.map(read);
// what made a merged report: the runs' commands, then this one
const commandOf = (ps: ContinualResults[]) => `${ps.map((p) => p.command).join(' && ')} && node dist/bench/continual/continual-merge.js ${process.argv.slice(2).join(' ')}`;
// the named-metric reports (<dir>/qabf) and validation reports (<dir>/validation, runs with --val-pairs) of the runs that wrote one
for (const sub of ['qabf', 'validation']) {
  const dirs = positionals.map((d) => join(d, sub)).filter((d) => existsSync(join(d, 'results.json')));
  if (!dirs.length) continue;
  if (dirs.length < positionals.length) console.error(`${sub}: only ${dirs.length} of ${positionals.length} runs have it; merged those`);
  const subParts = dirs.map(read);
  writeContinualReport(join(values.out, sub), mergeContinualResults(subParts, commandOf(subParts), { mixedAdapters: values['mixed-adapters'] }));
}
console.log(writeContinualReport(values.out, mergeContinualResults(parts, commandOf(parts), { mixedAdapters: values['mixed-adapters'] })));
