/** Gathers bench/results/pseudo-gt/<dataset>/summary.json and sweep.csv into one Markdown table. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'bench/results/pseudo-gt';
const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
const lines = [
  '# Pseudo ground truth on the train splits',
  '',
  'Composite: the task\'s weighted metric mean, each metric min-max normalised over the pair\'s candidate pool (published methods + our classical fusers; 1 = best candidate, 0 = worst), averaged over pairs. Nabf: artifacts (lower is better).',
  '',
  'Stage 1: the best candidate per pair. Refined: every label after the Fusion Refiner (c, alpha from the sweep). Final: what is written and trained on, the refined label where it scores above the stage-1 one (accepted), else stage 1.',
  '',
  '| dataset | pairs | pool | stage 1 | refined | final (accepted) | top-2 average | best single method | final beats stage 1 and top-2? | c, alpha | Nabf stage 1 / refined | probe MSE A, B (identity) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
];
const notes: string[] = [];
for (const d of readdirSync(dir).sort()) {
  const p = join(dir, d, 'summary.json');
  if (!existsSync(p)) continue;
  const s = JSON.parse(readFileSync(p, 'utf8'));
  const pool = new Set(readFileSync(join(dir, d, 'scores.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[1])).size;
  const c = s.composite;
  let note = '';
  if (c.final === undefined && c.refined !== undefined) {
    // summaries written before the acceptance rule: derive it from the per-pair evaluation
    const ev = readFileSync(join(dir, d, 'evaluation.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const col = ev[0]!.indexOf('composite');
    const by = new Map<string, Record<string, number>>();
    for (const r of ev.slice(1)) by.set(r[0]!, { ...(by.get(r[0]!) ?? {}), [r[1]!]: Number(r[col]) });
    const fin = [...by.values()].map((v) => Math.max(v.stage1!, v.refined!));
    c.final = fin.reduce((x, y) => x + y, 0) / fin.length;
    s.refinement_accepted = [...by.values()].filter((v) => v.refined! > v.stage1!).length;
    note = ': final derived from evaluation.csv (per pair the better of stage 1 and refined); this run predates the acceptance rule and wrote the refined labels';
  }
  const beats = c.final > c.stage1 && c.final > c.top2avg ? 'yes' : c.final >= c.stage1 && c.final > c.top2avg ? 'ties stage 1' : 'no';
  const pl = s.probe_loss;
  lines.push(`| ${s.dataset} | ${s.pairs} | ${pool} | ${f(c.stage1)} | ${f(c.refined)} | ${f(c.final)} (${s.refinement_accepted}/${s.pairs}) | ${f(c.top2avg)} | ${s.best_single_method.name} ${f(s.best_single_method.composite)} | ${beats} | ${s.refine.c}, ${s.refine.alpha}${s.tuned ? ' (sweep)' : ''} | ${f(s.nabf.stage1)} / ${f(s.nabf.refined)} | ${pl ? `${pl.a.toFixed(4)}, ${pl.b.toFixed(4)} (${pl.identity_a.toFixed(4)}, ${pl.identity_b.toFixed(4)})` : '-'} |`);
  if (note) notes.push(`${s.dataset}${note}.`);
}
if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
for (const d of readdirSync(dir).sort()) {
  const p = join(dir, d, 'sweep.csv');
  if (!existsSync(p)) continue;
  const rows = readFileSync(p, 'utf8').trim().split('\n').map((l) => l.split(','));
  lines.push('', `## c x alpha sweep: ${d}`, '', `| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`));
}
lines.push('', 'Command: `bash bench/eval/pseudo-gt.sh` (per dataset: `fusionfm pseudo-gt --task <t> --data <task/dataset> --split train --sweep-c 0.3,0.5,0.7,0.9 --sweep-alpha 0.25,0.5,1,2,4`).', '');
console.log(lines.join('\n'));
