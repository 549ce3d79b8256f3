/**
 * The EWC lambda of EWC + replay chosen on validation pairs (continual-lambda.ts gives the rule),
 * then that setting's test figures from the study's full-training runs, beside the other main
 * variants paired by seed: the target's question asked of the chosen lambda instead of the
 * study's default of 1.
 *
 *   node dist/bench/continual/continual-select.js --val <merged runs with --val-pairs> --test <merged study> --out <dir>
 * --val is a directory whose validation/results.json continual-merge.ts wrote; --test a directory
 * with the study's results.json (runs on all training pairs).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { chooseLambda } from './continual-lambda.js';
import { mean, pairedDifference, seedSummary, type ContinualResults } from './continual-report.js';

const { values } = benchArgs(import.meta.url, { options: { val: { type: 'string' }, test: { type: 'string' }, out: { type: 'string' } } });
if (!values.val || !values.test || !values.out) throw new Error('usage: continual-select --val <dir> --test <dir> --out <dir>');
const read = (file: string) => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ContinualResults;
  } catch (e) {
    throw new Error(`${file}: expected a continual study's results.json (${(e as Error).message})`);
  }
};
const val = read(join(values.val, 'validation', 'results.json'));
const test = read(join(values.test, 'results.json'));
if (test.split) throw new Error(`${values.test}/results.json: scored on ${test.split} pairs, expected the test split`);
const choice = chooseLambda(val);
const valPairs = (val.eval as { pairs?: Record<string, string[]> }).pairs ?? {};
const f = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));

// test figures, over the seeds each setting ran in the full-training study
const summary = new Map(seedSummary(test).map((s) => [s.variant, s]));
const testOf = (variant: string) => summary.get(variant);
const chosenTest = testOf(choice.chosen.variant);
// the target's other three variants; EWC + replay at the study's default lambda is one more row, for reference
const main = ['fine-tuning', 'EWC', 'replay', 'EWC + replay'].filter((n) => n !== choice.chosen.variant && summary.has(n));
const others = main.filter((n) => n !== 'EWC + replay');
const paired = main.map((n) => pairedDifference(test, choice.chosen.variant, n)).filter((x) => x !== null);
const target = paired.filter((p) => others.includes(p.other));
const iv = (x: { mean: number; lo: number | null; hi: number | null }) => `${x.mean >= 0 ? '+' : ''}${f(x.mean)}${x.lo === null ? '' : ` (${f(x.lo)} .. ${f(x.hi)})`}`;
// does the validation ranking of the settings agree with the test ranking? Spearman's rho, the
// test means taken over the seeds that every compared setting ran (a mean over other seeds would rank the seeds)
const both = choice.rows.filter((r) => testOf(r.variant));
const testSeeds = both.length ? both.map((r) => testOf(r.variant)!.seeds).reduce((a, b) => a.filter((x) => b.includes(x))) : [];
const testMean = (variant: string, k: 'ACC' | 'BWT') => {
  return mean(test.variants.filter((v) => v.variant === variant && testSeeds.includes(v.seed ?? 1)).map((v) => v[k]));
};
const ranks = (xs: number[]) => xs.map((x) => xs.filter((y) => y > x).length);
const spearman = (k: 'ACC' | 'BWT') => {
  const n = both.length;
  if (n < 3 || !testSeeds.length) return null;
  const v = ranks(both.map((r) => r[k]));
  const t = ranks(both.map((r) => testMean(r.variant, k)));
  return 1 - (6 * v.reduce((s, x, i) => s + (x - t[i]!) ** 2, 0)) / (n * (n * n - 1));
};

const md = [
  `# EWC + replay: lambda chosen on validation pairs`, '',
  `Validation runs: adapter ${val.adapter}; commit ${val.commit}; ${val.steps_per_task} steps per task; ${(val.train as { held_out_per_task?: number }).held_out_per_task} training pairs per task held out of training (${Object.entries(valPairs).map(([t, ps]) => `${t}: ${ps.join(', ')}`).join('; ')}); command \`${val.command}\`.`, '',
  `Test figures: ${values.test}/results.md (runs on every training pair).`, '',
  `Rule (continual-lambda.ts): the lambda > 0 with the best mean validation ACC over seeds ${choice.chosen.seeds.join(', ')}; the test split plays no part.`, '',
  '| setting | lambda | validation ACC | validation BWT | test seeds | test ACC | test BWT | test ACC / single-task |', '|---|---|---|---|---|---|---|---|',
  ...choice.rows.map((r) => {
    const t = testOf(r.variant);
    return `| ${r.variant}${r === choice.chosen ? ' (chosen)' : ''} | ${r.lambda} | ${f(r.ACC)} | ${f(r.BWT)} | ${t ? t.seeds.join(', ') : '-'} | ${f(t?.ACC.mean)} | ${f(t?.BWT.mean)} | ${f(t?.acc_vs_single?.mean)} |`;
  }), '',
  `Chosen: lambda ${choice.chosen.lambda} (${choice.chosen.variant}). ` +
    (choice.replay ? `On validation, replay alone has ACC ${f(choice.replay.ACC)} and BWT ${f(choice.replay.BWT)} against the chosen setting's ${f(choice.chosen.ACC)} and ${f(choice.chosen.BWT)}.` : ''), '',
  `How well validation ranks the ${both.length} settings that have test runs (Spearman's rho, validation against test on seeds ${testSeeds.join(', ')}): ACC ${f(spearman('ACC'))}, BWT ${f(spearman('BWT'))}.`, '',
  ...(chosenTest ? [
    `## The chosen setting on test, minus each main variant, paired by seed: mean (95% t-interval)`, '',
    '| against | seeds | BWT difference | ACC difference |', '|---|---|---|---|',
    ...paired.map((p) => `| ${p.other} | ${p.seeds.join(', ')} | ${iv(p.BWT)} | ${iv(p.ACC)} |`), '',
    `Target with the chosen lambda in place of the default: its mean test BWT ${f(chosenTest.BWT.mean)} is ${target.every((p) => p.BWT.mean > 0) ? 'above' : 'not above'} that of ${target.map((p) => p.other).join(', ')} over the shared seeds ` +
      `(the paired interval lies above 0 against ${target.filter((p) => p.BWT.lo !== null && p.BWT.lo > 0).length} of ${target.length}); ACC / single-task ${f(chosenTest.acc_vs_single?.mean)}, ` +
      `${(chosenTest.acc_vs_single?.mean ?? 0) >= 0.95 ? 'within' : 'not within'} 5%.`, '',
  ] : [`The chosen setting has no test runs in ${values.test}: run bench/continual/continual.ts --only '${choice.chosen.variant}' on all training pairs.`, '']),
].join('\n');
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, 'results.md'), md);
writeFileSync(join(values.out, 'results.json'), JSON.stringify({
  bench: 'continual-select', rule: 'best mean validation ACC among lambda > 0', val_adapter: val.adapter, val_command: val.command,
  command: `node dist/bench/continual/continual-select.js ${process.argv.slice(2).join(' ')}`, rows: choice.rows, chosen: choice.chosen, spearman_val_test: { ACC: spearman('ACC'), BWT: spearman('BWT') }, test: { dir: values.test, chosen: chosenTest ?? null, paired }
}, null, 1) + '\n');
console.log(md);
