/**
 * Attention on this adapter: the fused kernel (online softmax) against attention by query blocks
 * (attention-blocks.ts) and, where they fit, the materialised scores, one head per batch entry, interleaved rounds, medians.
 * The default shape is the FusionFM net's bottleneck attention on a 320x240 image (4 heads of 16
 * channels over 80x60 tokens); --tokens 19200 is a whole 640x480 image. Knob sets in --variants (a name starting with 'fused' runs the fused kernel, 'dense' the materialised scores, others the blocks).
 *
 *   node dist/bench/engine/attention-probe.js [--heads 4] [--dim 16] [--tokens 4800] [--rounds 3] [--variants 'name=KNOB:v,...;...'] [--out file.json]
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { ATTENTION_MAX_HEAD_DIM, attention, DENSE_ATTENTION_BYTES } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { interleaved, knobVariants, round, withKnobs } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { heads: { type: 'string', default: '4' }, dim: { type: 'string', default: '16' }, tokens: { type: 'string', default: '4800' }, rounds: { type: 'string', default: '3' }, variants: { type: 'string' }, out: { type: 'string' } } });
const [B, D, L, rounds] = [values.heads, values.dim, values.tokens, values.rounds].map(Number) as [number, number, number, number];
const rt = await createNodeRuntime();
const provenance = benchProvenance('attention-probe', rt.adapter.name);
useRuntime(rt);
const [q, k, v] = [1, 2, 3].map((s) => randn([B, D, L], s).keep());
const scale = 1 / Math.sqrt(D);
// the materialised scores too where they fit the dense path's budget
// (the fused kernel only for heads its registers hold)
const methods = (['fused', 'blocks', 'dense'] as const).filter((m) => (m !== 'fused' || D <= ATTENTION_MAX_HEAD_DIM) && (m !== 'dense' || B * L * L * 4 <= DENSE_ATTENTION_BYTES));
const cases: Record<string, () => Promise<void>> = {};
for (const method of methods) {
  const name = method;
  cases[name] = async () => { await tidy(() => noGrad(() => attention(q, k, v, scale, method))).data(); };
}
// a variant runs the fused kernel where its name starts with 'fused', the materialised scores
// where it starts with 'dense', else the query blocks
for (const [name, knobs] of knobVariants(values.variants ?? '').slice(1)) {
  const method = name.startsWith('fused') ? 'fused' : name.startsWith('dense') ? 'dense' : 'blocks';
  cases[name] = async () => withKnobs(knobs, async () => { await tidy(() => noGrad(() => attention(q, k, v, scale, method))).data(); });
}
const timings = await interleaved(cases, { warmup: 1, rounds });
const flops = 4 * B * L * L * D;
const records = Object.entries(timings).map(([impl, t]) => ({ case: `attention ${B}x${D}x${L}`, impl, adapter: rt.adapter.name, ...t, gflops: round(flops / (t.median_ms * 1e6)) }));
for (const r of records) console.log(`${r.impl.padEnd(16)} ${r.median_ms.toFixed(0).padStart(8)} ms  ${r.gflops} GFLOPS`);
writeBenchReport(values.out ?? `bench/results/attention-probe-${adapterSlug(rt.adapter)}.json`, provenance, { records });
rt.destroy();
