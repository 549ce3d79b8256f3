/**
 * The continual study's report: results.json, results.md (R matrices, ACC/BWT/FWT) and
 * tradeoff.svg (BWT against final average quality, one point per variant, the sweeps joined),
 * from one run of bench/continual.ts or several merged by bench/continual-merge.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VariantResult {
  variant: string; group: string; ewc_lambda: number; replay_size: number;
  R: number[][]; ACC: number; BWT: number; FWT: number; acc_vs_single: number | null; seconds: number;
}
export interface ContinualResults {
  bench: 'continual'; adapter: string; commit: string; command: string; tasks: string[]; steps_per_task: number;
  train: unknown; eval: unknown; untrained: number[]; single_task: number[]; single_task_mean: number | null;
  variants: VariantResult[]; seconds: number;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** ACC, BWT, FWT of one R matrix (rows: after task i; columns: task j), FWT against the untrained net. */
export function transferMetrics(R: number[][], untrained: number[]): { ACC: number; BWT: number; FWT: number } {
  const T = R.length;
  return {
    ACC: mean(R[T - 1]!),
    BWT: mean(R.slice(0, -1).map((_, j) => R[T - 1]![j]! - R[j]![j]!)),
    FWT: mean(R.slice(1).map((_, k) => R[k]![k + 1]! - untrained[k + 1]!)),
  };
}

function tradeoffSvg(r: ContinualResults): string {
  const W = 640, H = 420, L = 60, B = 50, T = 20, Rm = 180;
  const vs = r.variants;
  const xs = vs.map((v) => v.BWT), ys = vs.map((v) => v.ACC);
  if (r.single_task_mean !== null) ys.push(r.single_task_mean);
  const pad = (lo: number, hi: number) => { const d = Math.max(1e-3, hi - lo) * 0.1; return [lo - d, hi + d] as const; };
  const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
  const sx = (x: number) => L + ((W - L - Rm) * (x - x0)) / (x1 - x0);
  const sy = (y: number) => H - B - ((H - B - T) * (y - y0)) / (y1 - y0);
  const colour: Record<string, string> = { main: '#2563eb', 'replay sweep': '#16a34a', 'lambda sweep': '#dc2626' };
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - Rm}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(W - Rm) / 2}" y="${H - 12}" text-anchor="middle">BWT (higher = less forgetting)</text>`,
    `<text x="14" y="${(H - B) / 2}" transform="rotate(-90 14 ${(H - B) / 2})" text-anchor="middle">ACC (final average quality)</text>`,
    `<text x="${L}" y="${H - B + 16}" text-anchor="middle">${x0.toFixed(3)}</text><text x="${W - Rm}" y="${H - B + 16}" text-anchor="middle">${x1.toFixed(3)}</text>`,
    `<text x="${L - 4}" y="${H - B}" text-anchor="end">${y0.toFixed(3)}</text><text x="${L - 4}" y="${T + 4}" text-anchor="end">${y1.toFixed(3)}</text>`];
  if (r.single_task_mean !== null) {
    const y = sy(r.single_task_mean);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - Rm}" y2="${y}" stroke="#999" stroke-dasharray="4 3"/><text x="${W - Rm + 4}" y="${y + 4}">single-task mean</text>`);
    const y95 = sy(0.95 * r.single_task_mean);
    if (y95 < H - B) parts.push(`<line x1="${L}" y1="${y95}" x2="${W - Rm}" y2="${y95}" stroke="#bbb" stroke-dasharray="2 4"/><text x="${W - Rm + 4}" y="${y95 + 4}">95% of it</text>`);
  }
  vs.forEach((v, i) => {
    const c = colour[v.group] ?? 'black';
    parts.push(`<circle cx="${sx(v.BWT).toFixed(1)}" cy="${sy(v.ACC).toFixed(1)}" r="4" fill="${c}"/>`,
      `<text x="${(sx(v.BWT) + 6).toFixed(1)}" y="${(sy(v.ACC) + 4 + ((i % 3) - 1) * 3).toFixed(1)}" fill="${c}">${v.variant.replace(/&/g, '&amp;')}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">\n${parts.join('\n')}\n</svg>\n`;
}

export function writeContinualReport(dir: string, r: ContinualResults): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), JSON.stringify(r, null, 1) + '\n');
  const f = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(4));
  const md = [`# Continual learning: ${r.tasks.join(' -> ')}, ${r.steps_per_task} steps per task`, '',
    `Adapter ${r.adapter}; commit ${r.commit}; command \`${r.command}\`.`, '',
    `Scores: task composite on 128x128 centre crops of the test pairs (1 = best candidate of the pool). Untrained net: ${r.untrained.map(f).join(', ')}. ` +
      `Single-task models: ${r.single_task.length ? `${r.single_task.map(f).join(', ')} (mean ${f(r.single_task_mean)})` : 'not run'}.`, '',
    'ACC = mean_j R[T][j]; BWT = mean_{j<T} (R[T][j] - R[j][j]); FWT = mean_{j>1} (R[j-1][j] - untrained_j). Plot: tradeoff.svg.', '',
    '| variant | EWC lambda | replay size | ACC | BWT | FWT | ACC / single-task | R (rows: after task i; columns: task j) |', '|---|---|---|---|---|---|---|---|',
    ...r.variants.map((v) => `| ${v.variant} | ${v.ewc_lambda} | ${v.replay_size} | ${f(v.ACC)} | ${f(v.BWT)} | ${f(v.FWT)} | ${f(v.acc_vs_single)} | ${v.R.map((row) => row.map(f).join(' ')).join(' / ')} |`), ''];
  writeFileSync(join(dir, 'results.md'), md.join('\n'));
  if (r.variants.length) writeFileSync(join(dir, 'tradeoff.svg'), tradeoffSvg(r));
  return md.join('\n');
}
