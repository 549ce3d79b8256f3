/**
 * The continual study's report: results.json, results.md (R matrices, ACC/BWT/FWT) and
 * tradeoff.svg (BWT against final average quality, one point per variant, the sweeps joined),
 * from one run of bench/continual/continual.ts or several merged by bench/continual/continual-merge.ts. Runs of
 * several seeds are summarised per variant as the mean and the range over seeds: the range is
 * the noise a difference between variants has to exceed.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VariantResult {
  variant: string; group: string; ewc_lambda: number; replay_size: number;
  R: number[][]; ACC: number; BWT: number; FWT: number; acc_vs_single: number | null; seconds: number;
  /** the run's seed (initial weights, data order); absent in single-seed results of older runs */
  seed?: number;
}
/** what one seed's run measured without training a variant */
export interface SeedReference { seed: number; untrained: number[]; single_task: number[]; single_task_mean: number | null }
export interface ContinualResults {
  bench: 'continual'; adapter: string; commit: string; command: string; tasks: string[]; steps_per_task: number;
  /** what R holds: the task composite when absent, else a named metric's raw value */
  score?: string;
  /** which pairs R is scored on: the test split when absent, or 'validation' (training pairs held out of training, for choosing settings) */
  split?: 'validation';
  train: unknown; eval: unknown; untrained: number[]; single_task: number[]; single_task_mean: number | null;
  variants: VariantResult[]; seconds: number;
  /** per seed, when runs of several seeds were merged (untrained / single_task above are the first seed's) */
  seeds?: SeedReference[];
}

export const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** ACC, BWT, FWT of one R matrix (rows: after task i; columns: task j), FWT against the untrained net. */
export function transferMetrics(R: number[][], untrained: number[]): { ACC: number; BWT: number; FWT: number } {
  const T = R.length;
  return {
    ACC: mean(R[T - 1]!),
    BWT: mean(R.slice(0, -1).map((_, j) => R[T - 1]![j]! - R[j]![j]!)),
    FWT: mean(R.slice(1).map((_, k) => R[k]![k + 1]! - untrained[k + 1]!)),
  };
}

export interface Spread { mean: number; min: number; max: number; n: number }
const spread = (xs: number[]): Spread => ({ mean: mean(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });

/** Per variant (in the study's order): ACC, BWT, FWT and ACC / single-task over the seeds it ran with. */
export function seedSummary(r: ContinualResults): { variant: string; group: string; seeds: number[]; ACC: Spread; BWT: Spread; FWT: Spread; acc_vs_single: Spread | null }[] {
  const names = [...new Set(r.variants.map((v) => v.variant))];
  return names.map((name) => {
    const vs = r.variants.filter((v) => v.variant === name);
    const ratios = vs.map((v) => v.acc_vs_single).filter((x): x is number => x !== null);
    return {
      variant: name, group: vs[0]!.group, seeds: vs.map((v) => v.seed ?? 1),
      ACC: spread(vs.map((v) => v.ACC)), BWT: spread(vs.map((v) => v.BWT)), FWT: spread(vs.map((v) => v.FWT)),
      acc_vs_single: ratios.length === vs.length ? spread(ratios) : null,
    };
  });
}

/**
 * Merges results of several processes (bench/continual/continual.ts --only, possibly different --seed):
 * the same adapter (or, with mixedAdapters, one adapter per seed, named per seed), budget and training setting but the seed; runs of one seed must agree on the
 * untrained scores, and on R where they ran the same variant (kept once); each seed's single-task references come from the run of that seed that made
 * them; variants keep the study's order, seeds ascending.
 */
export function mergeContinualResults(parts: ContinualResults[], command: string, opts: { mixedAdapters?: boolean } = {}): ContinualResults {
  const first = parts[0];
  if (!first) throw new Error('continual merge: no results');
  const seedOf = (p: ContinualResults) => (p.train as { seed?: number }).seed ?? 1;
  const withoutSeed = (p: ContinualResults) => JSON.stringify({ ...(p.train as object), seed: 0 });
  const refs = new Map<number, SeedReference>();
  // with mixedAdapters, seeds may come from different adapters, but each seed from one: two
  // adapters follow different float paths, so their runs of one seed are not the same run
  const adapterOfSeed = new Map<number, string>();
  for (const p of parts) {
    if ((p.score ?? 'composite') !== (first.score ?? 'composite')) throw new Error(`${p.command}: scores ${p.score ?? 'composite'}, not ${first.score ?? 'composite'} like ${first.command}`);
    if ((p.split ?? 'test') !== (first.split ?? 'test')) throw new Error(`${p.command}: scored on the ${p.split ?? 'test'} pairs, not the ${first.split ?? 'test'} pairs like ${first.command}`);
    if ((!opts.mixedAdapters && p.adapter !== first.adapter) || p.steps_per_task !== first.steps_per_task || withoutSeed(p) !== withoutSeed(first)) {
      throw new Error(`${p.command}: another adapter, budget or training setting than ${first.command}`);
    }
    const seed = seedOf(p);
    const seedAdapter = adapterOfSeed.get(seed) ?? p.adapter;
    if (seedAdapter !== p.adapter) throw new Error(`${p.command}: seed ${seed} ran on ${seedAdapter} in another run; one seed must come from one adapter`);
    adapterOfSeed.set(seed, p.adapter);
    const ref = refs.get(seed);
    if (!ref) refs.set(seed, { seed, untrained: p.untrained, single_task: p.single_task, single_task_mean: p.single_task_mean });
    else {
      if (p.untrained.some((x, i) => Math.abs(x - ref.untrained[i]!) > 1e-6)) throw new Error(`${p.command}: untrained scores differ from another run of seed ${seed} (${p.untrained} vs ${ref.untrained})`);
      if (!ref.single_task.length && p.single_task.length) Object.assign(ref, { single_task: p.single_task, single_task_mean: p.single_task_mean });
    }
  }
  const order = ['main', 'replay sweep', 'lambda sweep', 'Fisher per tensor'];
  // a variant run twice with one seed (a rerun) must give the same R, since a run is
  // deterministic on one adapter; it is kept once
  const byKey = new Map<string, { v: VariantResult; command: string }>();
  for (const p of parts) for (const v of p.variants) {
    const key = `${v.variant}\u0000${seedOf(p)}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, { v: { ...v, seed: seedOf(p) }, command: p.command });
    else if (seen.v.R.some((row, i) => row.some((x, j) => Math.abs(x - v.R[i]![j]!) > 1e-6))) {
      throw new Error(`${p.command}: '${v.variant}' with seed ${seedOf(p)} gives another R than in ${seen.command}`);
    }
  }
  const variants = [...byKey.values()].map(({ v }) => {
    const ref = refs.get(v.seed!)!;
    return { ...v, seed: v.seed!, acc_vs_single: ref.single_task_mean === null ? null : v.ACC / ref.single_task_mean };
  }).sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group) || a.replay_size - b.replay_size || a.ewc_lambda - b.ewc_lambda || a.seed - b.seed);
  const seeds = [...refs.values()].sort((a, b) => a.seed - b.seed);
  const firstRef = seeds.find((s) => s.single_task.length) ?? seeds[0]!;
  const adapters = [...new Set(adapterOfSeed.values())];
  const adapter = adapters.length === 1 ? adapters[0]! : adapters.map((a) => `${a} (seed ${[...adapterOfSeed].filter(([, x]) => x === a).map(([s]) => s).sort((x, y) => x - y).join(', ')})`).join('; ');
  return {
    ...first, adapter, commit: [...new Set(parts.map((p) => p.commit))].join(', '), command, untrained: seeds[0]!.untrained, single_task: firstRef.single_task, single_task_mean: firstRef.single_task_mean,
    variants, seconds: parts.reduce((s, p) => s + p.seconds, 0), ...(seeds.length > 1 ? { seeds } : {}),
  };
}

// two-sided 95% quantiles of Student's t by degrees of freedom (1 .. 10); 1.96 beyond
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/** Mean and 95% t-interval of paired differences (null interval with one pair). */
export function pairedInterval(diffs: number[]): { mean: number; lo: number | null; hi: number | null; n: number } {
  const n = diffs.length;
  const m = mean(diffs);
  if (n < 2) return { mean: m, lo: null, hi: null, n };
  const sd = Math.sqrt(diffs.reduce((s, d) => s + (d - m) ** 2, 0) / (n - 1));
  const half = (T975[n - 2] ?? 1.96) * sd / Math.sqrt(n);
  return { mean: m, lo: m - half, hi: m + half, n };
}

type Interval = ReturnType<typeof pairedInterval>;
export interface PairedDifference { variant: string; other: string; seeds: number[]; BWT: Interval; ACC: Interval }

/**
 * variant minus other, paired by seed (one seed gives both runs the same initial weights and data
 * order): the per-seed differences of BWT and ACC, their mean and 95% t-interval. An interval
 * that holds 0 means the seeds do not tell the two apart. Null when they share no seed.
 */
export function pairedDifference(r: ContinualResults, variant: string, other: string): PairedDifference | null {
  const of = (name: string) => new Map(r.variants.filter((v) => v.variant === name).map((v) => [v.seed ?? 1, v]));
  const mine = of(variant), theirs = of(other);
  const seeds = [...mine.keys()].filter((s) => theirs.has(s)).sort((a, b) => a - b);
  if (!seeds.length) return null;
  const diff = (k: 'BWT' | 'ACC') => pairedInterval(seeds.map((s) => mine.get(s)![k] - theirs.get(s)![k]));
  return { variant, other, seeds, BWT: diff('BWT'), ACC: diff('ACC') };
}

/**
 * The two paired questions of the study: the target's (EWC + replay against each other main
 * variant) and whether EWC adds anything to replay at any setting (each EWC + replay variant
 * with replay's buffer size, minus replay alone).
 */
export function pairedComparisons(r: ContinualResults): { target: PairedDifference[]; ewcOverReplay: PairedDifference[] } {
  const names = [...new Set(r.variants.map((v) => v.variant))];
  const main = names.filter((n) => r.variants.find((v) => v.variant === n)!.group === 'main');
  const replaySize = r.variants.find((v) => v.variant === 'replay')?.replay_size;
  const withEwc = names.filter((n) => r.variants.some((v) => v.variant === n && v.ewc_lambda > 0 && v.replay_size > 0 && v.replay_size === replaySize));
  const keep = (xs: (PairedDifference | null)[]) => xs.filter((x): x is PairedDifference => x !== null);
  return {
    target: keep(main.filter((n) => n !== 'EWC + replay').map((n) => pairedDifference(r, 'EWC + replay', n))),
    ewcOverReplay: keep(withEwc.map((n) => pairedDifference(r, n, 'replay'))),
  };
}

/** mean over the seeds that ran single-task references (the first seed's when only it did) */
function singleTaskMean(r: ContinualResults): number | null {
  const ms = (r.seeds ?? []).map((s) => s.single_task_mean).filter((x): x is number => x !== null);
  return ms.length ? mean(ms) : r.single_task_mean;
}

function tradeoffSvg(r: ContinualResults): string {
  const W = 640, H = 420, L = 60, B = 50, T = 20, Rm = 180;
  // one point per variant: the mean over its seeds, with whiskers over their range when it ran with several
  const vs = seedSummary(r);
  const single = singleTaskMean(r);
  const xs = vs.flatMap((v) => [v.BWT.min, v.BWT.max]), ys = vs.flatMap((v) => [v.ACC.min, v.ACC.max]);
  if (single !== null) ys.push(single);
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
  if (single !== null) {
    const y = sy(single);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - Rm}" y2="${y}" stroke="#999" stroke-dasharray="4 3"/><text x="${W - Rm + 4}" y="${y + 4}">single-task mean</text>`);
    const y95 = sy(0.95 * single);
    if (y95 < H - B) parts.push(`<line x1="${L}" y1="${y95}" x2="${W - Rm}" y2="${y95}" stroke="#bbb" stroke-dasharray="2 4"/><text x="${W - Rm + 4}" y="${y95 + 4}">95% of it</text>`);
  }
  // labels right of their point, moved down past any label already placed (about 6 px per character)
  const placed: { x0: number; x1: number; y: number }[] = [];
  const labelY = (x: number, y: number, text: string) => {
    const box = { x0: x, x1: x + 6 * text.length, y };
    while (placed.some((p) => p.x0 < box.x1 && box.x0 < p.x1 && Math.abs(p.y - box.y) < 12)) box.y += 12;
    placed.push(box);
    return box.y;
  };
  vs.forEach((v) => {
    const c = colour[v.group] ?? 'black';
    const cx = sx(v.BWT.mean), cy = sy(v.ACC.mean);
    if (v.seeds.length > 1) {
      parts.push(`<line x1="${sx(v.BWT.min).toFixed(1)}" y1="${cy.toFixed(1)}" x2="${sx(v.BWT.max).toFixed(1)}" y2="${cy.toFixed(1)}" stroke="${c}" stroke-opacity="0.5"/>`,
        `<line x1="${cx.toFixed(1)}" y1="${sy(v.ACC.min).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${sy(v.ACC.max).toFixed(1)}" stroke="${c}" stroke-opacity="0.5"/>`);
    }
    const label = v.seeds.length > 1 ? `${v.variant} (${v.seeds.length} seeds)` : v.variant;
    parts.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="4" fill="${c}"/>`,
      `<text x="${(cx + 6).toFixed(1)}" y="${labelY(cx + 6, cy + 4, label).toFixed(1)}" fill="${c}">${label.replace(/&/g, '&amp;')}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">\n${parts.join('\n')}\n</svg>\n`;
}

/** The paired-by-seed sections of results.md (each only when some pair in it ran with two seeds or more). */
function paired({ target, ewcOverReplay }: ReturnType<typeof pairedComparisons>, f: (x: number | null) => string): string[] {
  const ci = (x: Interval) => `${x.mean >= 0 ? '+' : ''}${f(x.mean)}${x.lo === null ? '' : ` (${f(x.lo)} .. ${f(x.hi)})${x.lo > 0 ? ', above 0' : x.hi! < 0 ? ', below 0' : ''}`}`;
  const table = (title: string, head: string, rows: PairedDifference[], name: (x: PairedDifference) => string) => rows.some((x) => x.seeds.length > 1)
    ? [`## ${title}, paired by seed: mean (95% t-interval)`, '', `| ${head} | seeds | BWT difference | ACC difference |`, '|---|---|---|---|',
      ...rows.map((x) => `| ${name(x)} | ${x.seeds.join(', ')} | ${ci(x.BWT)} | ${ci(x.ACC)} |`), ''] : [];
  const sections = [...table('EWC + replay minus each main variant', 'against', target, (x) => x.other),
    ...table('Each EWC + replay setting minus replay alone (same buffer)', 'setting', ewcOverReplay, (x) => x.variant)];
  return sections.length ? ['A seed gives both runs of a pair the same initial weights and data order; an interval that holds 0 means these seeds do not tell the two apart.', '', ...sections] : [];
}

export function writeContinualReport(dir: string, r: ContinualResults): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), JSON.stringify(r, null, 1) + '\n');
  const f = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(4));
  const refs: SeedReference[] = r.seeds ?? [{ seed: (r.train as { seed?: number }).seed ?? 1, untrained: r.untrained, single_task: r.single_task, single_task_mean: r.single_task_mean }];
  const refLines = refs.map((s) => `${refs.length > 1 ? `Seed ${s.seed}: u` : 'U'}ntrained net: ${s.untrained.map(f).join(', ')}. ` +
    `Single-task models: ${s.single_task.length ? `${s.single_task.map(f).join(', ')} (mean ${f(s.single_task_mean)})` : 'not run'}.`);
  const summary = seedSummary(r);
  const rng = (x: Spread | null) => (x === null ? '-' : x.n > 1 ? `${f(x.mean)} (${f(x.min)} .. ${f(x.max)})` : f(x.mean));
  // the issue's target, read off the seed means: EWC + replay has the best BWT of the four main
  // variants, and its ACC is within 5% of the single-task models'
  const main = summary.filter((v) => v.group === 'main');
  const both = main.find((v) => v.variant === 'EWC + replay');
  const bestBwt = main.length ? main.reduce((x, y) => (y.BWT.mean > x.BWT.mean ? y : x)) : null;
  const comparisons = pairedComparisons(r);
  // the seed means alone can rank by noise: say whether the paired intervals back the ranking
  const resolved = (xs: PairedDifference[]) => (xs.some((x) => x.seeds.length > 1)
    ? ` by the means; paired by seed, its BWT interval lies above ${xs.filter((x) => x.BWT.lo !== null && x.BWT.lo > 0).length} of the ${xs.length} other main variants` : '');
  const target = both && bestBwt ? [`Target (seed means): best BWT of the main variants: ${bestBwt.variant} (${f(bestBwt.BWT.mean)}), ` +
    `${bestBwt === both ? `met${resolved(comparisons.target)}` : 'not met'}; EWC + replay ACC / single-task ${both.acc_vs_single ? f(both.acc_vs_single.mean) : '-'}, ` +
    `${both.acc_vs_single && both.acc_vs_single.mean >= 0.95 ? 'within' : 'not within'} 5%.`, ''] : [];
  const md = [`# Continual learning: ${r.tasks.join(' -> ')}, ${r.steps_per_task} steps per task`, '',
    `Adapter ${r.adapter}; commit ${r.commit}; command \`${r.command}\`; ${Math.round(r.seconds)} s of compute (summed over processes).`, '',
    r.split === 'validation' ? `Scores: task composite on 128x128 centre crops of the validation pairs (training pairs held out of every run's training; 1 = best candidate of the pool), for choosing settings; the test scores of the same runs are in ../results.md.`
      : r.score ? `Scores: ${r.score} (raw, mean over the pairs) on 128x128 centre crops of the test pairs; the task composite of the same outputs is in ../results.md.`
      : `Scores: task composite on 128x128 centre crops of the test pairs (1 = best candidate of the pool).${existsSync(join(dir, 'qabf', 'results.md')) ? ' The same outputs scored by Qabf alone (bounded): qabf/results.md.' : ''}${existsSync(join(dir, 'validation', 'results.md')) ? ' The runs\' scores on held-out training pairs: validation/results.md.' : ''}`, '', ...refLines.flatMap((l) => [l, '']),
    'ACC = mean_j R[T][j]; BWT = mean_{j<T} (R[T][j] - R[j][j]); FWT = mean_{j>1} (R[j-1][j] - untrained_j); ACC / single-task against the single-task mean of the same seed. Plot: tradeoff.svg.', '',
    ...target,
    ...paired(comparisons, f),
    ...(summary.some((v) => v.seeds.length > 1) ? [
      '## Over seeds: mean (min .. max)', '',
      '| variant | seeds | ACC | BWT | FWT | ACC / single-task |', '|---|---|---|---|---|---|',
      ...summary.map((v) => `| ${v.variant} | ${v.seeds.join(', ')} | ${rng(v.ACC)} | ${rng(v.BWT)} | ${rng(v.FWT)} | ${rng(v.acc_vs_single)} |`), '',
      '## Every run', ''] : []),
    '| variant | seed | EWC lambda | replay size | ACC | BWT | FWT | ACC / single-task | R (rows: after task i; columns: task j) |', '|---|---|---|---|---|---|---|---|---|',
    ...r.variants.map((v) => `| ${v.variant} | ${v.seed ?? refs[0]!.seed} | ${v.ewc_lambda} | ${v.replay_size} | ${f(v.ACC)} | ${f(v.BWT)} | ${f(v.FWT)} | ${f(v.acc_vs_single)} | ${v.R.map((row) => row.map(f).join(' ')).join(' / ')} |`), ''];
  writeFileSync(join(dir, 'results.md'), md.join('\n'));
  if (r.variants.length) writeFileSync(join(dir, 'tradeoff.svg'), tradeoffSvg(r));
  return md.join('\n');
}
