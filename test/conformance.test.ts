/**
 * Our VIFB-convention metrics against the published per-image tables, on a few small images
 * (the full 21 + 20 image run is `npm run conformance`, results in bench/results/).
 */
import { describe, expect, it } from 'vitest';
import { scoreShard, summarize } from '../bench/eval/conformance.js';
import { hasData } from '../src/io/dataset.js';

const LOOSE = new Set(['Qcb', 'Qcv']);

describe.skipIf(!hasData())('conformance with published tables (skipped when ../shared/data is absent)', () => {
  it('VIFB: 13 metrics x 25 methods on the two 320x240 pairs', async () => {
    const summary = summarize(await scoreShard(['ivf/VIFB'], 0, 1, undefined, undefined, ['peopleshadow', 'walking']));
    for (const s of summary) console.log(`VIFB ${s.metric.padEnd(18)} ${s.group.padEnd(20)} ${s.within_tolerance}/${s.cells} (${(100 * s.rate).toFixed(1)}%)`);
    for (const s of summary.filter((x) => x.group === 'main')) expect(s.rate, `${s.metric}: worst ${JSON.stringify(s.worst)}`).toBeGreaterThanOrEqual(LOOSE.has(s.metric) ? 0.95 : 0.99);
    expect(summary.filter((x) => x.group === 'main').length).toBe(13);
  }, 900_000);
  it('MEFB: the shared metrics and MEF-SSIM x 21 methods on Window2', async () => {
    const summary = summarize(await scoreShard(['mef/MEFB'], 0, 1, undefined, undefined, ['Window2']));
    for (const s of summary) console.log(`MEFB ${s.metric.padEnd(18)} ${s.within_tolerance}/${s.cells} (${(100 * s.rate).toFixed(1)}%)`);
    for (const s of summary) expect(s.rate, `${s.metric}: worst ${JSON.stringify(s.worst)}`).toBeGreaterThanOrEqual(LOOSE.has(s.metric) ? 0.95 : 0.99);
    expect(summary.length).toBe(11);
  }, 900_000);
});
