/**
 * Ranking results against a sub-pool of the candidates: issue 20 asks where the model stands
 * among the published methods alone (VIFB's 25, MEFB's 21, Lytro's 30), on their own scale.
 * Per pair, the sub-pool's members set the min-max bounds of each metric; every published method
 * and every result being ranked is scored on those bounds (scoreWith), and the composites are
 * averaged over pairs. A result's rank is 1 + the number of members whose mean is higher.
 */
import { poolBounds, scoreWith, type Bounds } from './selection.js';

export interface PairForRanking {
  /** the pair's pool members and their raw scores, as pairPoolBounds keeps them */
  pool: NonNullable<Bounds['pool']>;
  /** raw scores of the results to rank (e.g. FusionFM rows, classical fusers), by name */
  results: Record<string, number[]>;
}

export interface SubPoolRanking {
  /** the members, best first, with their mean composite and the number of pairs they were scored on */
  members: { name: string; composite: number; pairs: number }[];
  /** each ranked result: mean composite over the pairs, rank among the members (1 = above them all), of how many */
  results: { name: string; composite: number; rank: number; of: number }[];
}

const finite = (raw: (number | null)[]) => raw.map((v) => (v === null ? NaN : v));

export function rankInSubPool(pairs: PairForRanking[], inSubPool: (name: string) => boolean, metrics: readonly string[], weights: Record<string, number>): SubPoolRanking {
  const sums = new Map<string, { total: number; n: number }>();
  const resultSums = new Map<string, { total: number; n: number }>();
  const add = (m: Map<string, { total: number; n: number }>, name: string, v: number) => {
    const e = m.get(name) ?? { total: 0, n: 0 };
    e.total += v;
    e.n++;
    m.set(name, e);
  };
  for (const p of pairs) {
    const members = p.pool.filter((c) => inSubPool(c.name)).map((c) => ({ name: c.name, raw: finite(c.raw) }));
    if (!members.length) continue;
    const bounds = poolBounds(members, metrics);
    for (const c of members) add(sums, c.name, scoreWith(bounds, c.name, c.raw, metrics, weights).composite);
    for (const [name, raw] of Object.entries(p.results)) add(resultSums, name, scoreWith(bounds, name, raw, metrics, weights).composite);
  }
  const members = [...sums].map(([name, e]) => ({ name, composite: e.total / e.n, pairs: e.n })).sort((x, y) => y.composite - x.composite);
  const results = [...resultSums].map(([name, e]) => {
    const composite = e.total / e.n;
    return { name, composite, rank: 1 + members.filter((m) => m.composite > composite).length, of: members.length };
  });
  return { members, results };
}
