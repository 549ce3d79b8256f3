/**
 * One table over the test splits that bench/flow/default-model.sh scored: per dataset, the task
 * composite of each FusionFM model and of the best classical fuser, and per task the mean over
 * its datasets' pairs (MIF: three medical sets).
 *
 *   node dist/bench/flow/default-model-summary.js [--root bench/results/default-model]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import type { SubPoolRanking } from '../../src/fusion/pseudo/pool-ranking.js';

interface Row { name: string; kind: string; median_ms: number | null; composite: number; means?: Record<string, number> }
interface FlowResults {
  dataset: string; split?: string; pairs: number; of_pairs: number; adapter: string; commit: string; command: string; rows: Row[];
  // absent in results written before the published-only ranking, or where a dataset has no published results
  published_pool?: SubPoolRanking | null;
}

const { values } = benchArgs(import.meta.url, { options: { root: { type: 'string', default: 'bench/results/default-model' } } });
const root = values.root!;
if (!existsSync(root)) throw new Error(`--root ${root}: not found (run bench/flow/default-model.sh first)`);
const results: FlowResults[] = [];
for (const task of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
  for (const set of readdirSync(join(root, task.name), { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const file = join(root, task.name, set.name, 'results.json');
    if (existsSync(file)) results.push(JSON.parse(readFileSync(file, 'utf8')) as FlowResults);
  }
}
if (!results.length) throw new Error(`${root}: no <task>/<dataset>/results.json`);
const incomplete = results.filter((r) => r.pairs !== r.of_pairs);
if (incomplete.length) throw new Error(`${incomplete.map((r) => `${r.dataset}: ${r.pairs} of ${r.of_pairs} pairs`).join('; ')}: the run was cut short`);

const models = [...new Set(results.flatMap((r) => r.rows.filter((x) => x.kind === 'fusionfm').map((x) => x.name)))];
const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(3));
const bestClassical = (r: FlowResults) => r.rows.filter((x) => x.kind === 'classical').reduce((a, b) => (b.composite > a.composite ? b : a));
const composite = (r: FlowResults, name: string) => r.rows.find((x) => x.name === name)?.composite;

const tasks = [...new Set(results.map((r) => r.dataset.split('/')[0]!))];
// per task: the mean over all its test pairs, each dataset weighted by its pair count
const taskMean = (task: string, value: (r: FlowResults) => number | undefined) => {
  const rs = results.filter((r) => r.dataset.startsWith(`${task}/`));
  const n = rs.reduce((s, r) => s + r.pairs, 0);
  return rs.some((r) => value(r) === undefined) ? undefined : rs.reduce((s, r) => s + value(r)! * r.pairs, 0) / n;
};
const allTasks = (value: (task: string) => number | undefined) => {
  const xs = tasks.map(value);
  return xs.some((x) => x === undefined) ? undefined : xs.reduce((a, b) => a! + b!, 0)! / xs.length;
};
/** Issue 20's other bar: each model's rank among the published methods alone, on their own scale. */
function publishedRanking(): string[] {
  const ranked = results.filter((r) => r.published_pool?.members.length);
  if (!ranked.length) return [];
  const cell = (r: FlowResults, name: string) => {
    const x = r.published_pool!.results.find((y) => y.name === name);
    return x ? `${f(x.composite)} (${x.rank} of ${x.of})` : '-';
  };
  return [
    '', '## Among the published methods alone (issue 20 asks for the top three)', '',
    'Composite with each pair\'s pool the published methods alone; in brackets the rank among them (1 = above all).', '',
    `| dataset | ${models.join(' | ')} | best classical | third published method |`, `|---|${models.map(() => '---').join('|')}|---|---|`,
    ...ranked.map((r) => {
      const third = r.published_pool!.members[2];
      return `| ${r.dataset} | ${models.map((m) => cell(r, m)).join(' | ')} | ${bestClassical(r).name} ${cell(r, bestClassical(r).name)} | ${third ? `${third.name} ${f(third.composite)}` : '-'} |`;
    }),
  ];
}
// flow-ivf --held-out K scores validation pairs held out of training instead of the test split
const validation = results.every((r) => r.split?.startsWith('train'));
const md = [
  validation ? '# Held-out validation pairs (training pairs kept out of training), every shared dataset' : '# The bundled model on every shared test split', '',
  `Adapter ${[...new Set(results.map((r) => r.adapter))].join('; ')}; commit ${[...new Set(results.map((r) => r.commit))].join(', ')}.`, '',
  `Task composite of the one-step output on the full-size ${validation ? 'validation' : 'test'} pairs: each metric min-max normalised over the pair\'s candidate pool (published methods + classical fusers), 1 = the best of the pool on every metric. Per-dataset tables, with the standard metrics and times: \`<task>/<dataset>/results.md\`.`, '',
  `| dataset | pairs | ${models.join(' | ')} | best classical |`, `|---|---|${models.map(() => '---').join('|')}|---|`,
  ...results.map((r) => `| ${r.dataset} | ${r.pairs} | ${models.map((m) => f(composite(r, m))).join(' | ')} | ${bestClassical(r).name} ${f(bestClassical(r).composite)} |`),
  '', `## Per task (mean over its ${validation ? 'validation' : 'test'} pairs)`, '',
  `| task | pairs | ${models.join(' | ')} | best classical per dataset |`, `|---|---|${models.map(() => '---').join('|')}|---|`,
  ...tasks.map((t) => `| ${t} | ${results.filter((r) => r.dataset.startsWith(`${t}/`)).reduce((s, r) => s + r.pairs, 0)} | ${models.map((m) => f(taskMean(t, (r) => composite(r, m)))).join(' | ')} | ${f(taskMean(t, (r) => bestClassical(r).composite))} |`),
  // every task counts once, however many pairs its test split has (MIF has 45, the others 6 or 7)
  `| all ${tasks.length} tasks (mean of the task means) | ${results.reduce((s, r) => s + r.pairs, 0)} | ${models.map((m) => f(allTasks((t) => taskMean(t, (r) => composite(r, m))))).join(' | ')} | ${f(allTasks((t) => taskMean(t, (r) => bestClassical(r).composite)))} |`,
  '', '## VIF and Qabf against the Laplacian pyramid (issue 20 asks for at least its value on every split)', '',
  `| dataset | ${models.flatMap((m) => [`${m} VIF`, `${m} Qabf`]).join(' | ')} | laplacian VIF | laplacian Qabf |`,
  `|---|${models.map(() => '---|---').join('|')}|---|---|`,
  ...results.map((r) => {
    const lap = r.rows.find((x) => x.name === 'classical:laplacian')?.means ?? {};
    const mark = (m: string, k: string) => {
      const v = r.rows.find((x) => x.name === m)?.means?.[k];
      return v === undefined ? '-' : `${f(v)}${lap[k] !== undefined && v >= lap[k]! ? '' : ' (below)'}`;
    };
    return `| ${r.dataset} | ${models.flatMap((m) => [mark(m, 'VIF@cddfuse'), mark(m, 'Qabf@vifb')]).join(' | ')} | ${f(lap['VIF@cddfuse'])} | ${f(lap['Qabf@vifb'])} |`;
  }),
  ...publishedRanking(),
  '', 'Commands:', '', ...results.map((r) => `- \`${r.command}\``), '',
];
writeFileSync(join(root, 'summary.md'), md.join('\n'));
writeFileSync(join(root, 'summary.json'), JSON.stringify({ models, datasets: results.map((r) => ({ dataset: r.dataset, pairs: r.pairs, composite: Object.fromEntries(models.map((m) => [m, composite(r, m) ?? null])), best_classical: { name: bestClassical(r).name, composite: bestClassical(r).composite }, published_pool_ranks: r.published_pool?.results ?? null })) }, null, 1) + '\n');
console.log(md.join('\n'));
