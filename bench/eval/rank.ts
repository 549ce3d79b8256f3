/**
 * Ranks every method of an eval mean.csv per metric (1 = best, using each metric's direction)
 * and prints a Markdown table with the classical fusers' ranks and their mean rank.
 *   node dist/bench/eval/rank.js <mean.csv>
 */
import { readFileSync } from 'node:fs';
import { getMetric } from '../../src/fusion/metrics/index.js';
import { parseCsv } from '../../src/io/dataset.js';

const path = process.argv[2]!;
const rows = parseCsv(readFileSync(path, 'utf8'), path);
const ids = Object.keys(rows[0]!).filter((k) => k !== 'method');
const specs = ids.map((id) => getMetric(id));
const ranks = new Map<string, number[]>(rows.map((r) => [r.method!, []]));
specs.forEach((s, k) => {
  const vals = rows.map((r) => ({ m: r.method!, v: Number(r[ids[k]!]) }));
  vals.sort((a, b) => (s.higherIsBetter ? b.v - a.v : a.v - b.v));
  vals.forEach((x, i) => ranks.get(x.m)!.push(i + 1));
});
const meanRank = (m: string) => ranks.get(m)!.reduce((a, b) => a + b, 0) / ids.length;
const order = [...ranks.keys()].sort((a, b) => meanRank(a) - meanRank(b));
console.log(`Ranks among ${rows.length} methods (1 = best) per metric, from ${path}; sorted by mean rank.\n`);
console.log(`| method | mean rank | ${ids.join(' | ')} |`);
console.log(`| --- | --- | ${ids.map(() => '---').join(' | ')} |`);
for (const m of order) {
  const label = m.startsWith('classical:') ? `**${m}**` : m;
  console.log(`| ${label} | ${meanRank(m).toFixed(1)} | ${ranks.get(m)!.join(' | ')} |`);
}
