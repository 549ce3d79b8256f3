/**
 * The HTML report of `fusionfm bench`: quality-versus-time plot (SVG, log time axis), the table,
 * the speedup, example crops, and the engine benchmarks of the same adapter when present.
 */
import type { Image } from '../fusion/image.js';
import { dataUri, thumbnail } from '../io/report.js';
import type { BenchResult } from './bench-result.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f4 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : '-');

function plot(r: BenchResult, size: string): string {
  const W = 640, H = 360, L = 60, B = 44, T = 16, R = 20;
  const pts = r.rows.filter((row) => Number.isFinite(row.ms[size]!));
  const xs = pts.map((p) => Math.log10(p.ms[size]!));
  const ys = pts.map((p) => p.composite);
  const [x0, x1] = [Math.floor(Math.min(...xs)), Math.ceil(Math.max(...xs) + 1e-9)];
  const pad = Math.max(0.02, (Math.max(...ys) - Math.min(...ys)) * 0.1);
  const [y0, y1] = [Math.min(...ys) - pad, Math.max(...ys) + pad];
  const sx = (x: number) => L + ((W - L - R) * (x - x0)) / Math.max(1e-9, x1 - x0);
  const sy = (y: number) => H - B - ((H - B - T) * (y - y0)) / Math.max(1e-9, y1 - y0);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11"><rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`];
  for (let d = x0; d <= x1; d++) out.push(`<text x="${sx(d)}" y="${H - B + 14}" text-anchor="middle">${10 ** d >= 1000 ? `${10 ** (d - 3)} s` : `${10 ** d} ms`}</text>`);
  out.push(`<text x="${(W + L) / 2}" y="${H - 6}" text-anchor="middle">median time per ${size} image (log scale)</text>`,
    `<text x="${L - 4}" y="${sy(y0) + 4}" text-anchor="end">${y0.toFixed(2)}</text><text x="${L - 4}" y="${sy(y1) + 4}" text-anchor="end">${y1.toFixed(2)}</text>`,
    `<text x="12" y="${(H - B) / 2}" transform="rotate(-90 12 ${(H - B) / 2})" text-anchor="middle">task composite</text>`);
  for (const [family, colour] of [['fusionfm', '#2563eb'], ['ddim', '#dc2626']] as const) {
    const fam = pts.filter((p) => p.family === family).sort((a, b) => a.ms[size]! - b.ms[size]!);
    out.push(`<polyline fill="none" stroke="${colour}" points="${fam.map((p) => `${sx(Math.log10(p.ms[size]!)).toFixed(1)},${sy(p.composite).toFixed(1)}`).join(' ')}"/>`);
    for (const p of fam) out.push(`<circle cx="${sx(Math.log10(p.ms[size]!)).toFixed(1)}" cy="${sy(p.composite).toFixed(1)}" r="3.5" fill="${colour}"/><text x="${(sx(Math.log10(p.ms[size]!)) + 5).toFixed(1)}" y="${(sy(p.composite) - 5).toFixed(1)}" fill="${colour}">${esc(p.name)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

export function benchHtml(r: BenchResult, ex: { name: string; a: Image; b: Image; fused: Map<string, Image> }, sameNet: boolean): string {
  const sizes = Object.keys(r.rows[0]?.ms ?? {});
  const metrics = Object.keys(r.rows[0]?.metrics ?? {});
  const table = [`<table><tr><th>method</th><th>NFE</th>${sizes.map((s) => `<th>ms per ${s}</th>`).join('')}<th>composite</th>${metrics.map((m) => `<th>${m}</th>`).join('')}</tr>`,
    ...r.rows.map((row) => `<tr><td>${esc(row.name)}</td><td>${row.nfe}</td>${sizes.map((s) => `<td>${f4(row.ms[s]!)}</td>`).join('')}<td>${f4(row.composite)}</td>${metrics.map((m) => `<td>${f4(row.metrics[m]!)}</td>`).join('')}</tr>`), '</table>'].join('\n');
  const speed = r.speedup.map((s) => `<li>${s.size}: FusionFM k=1 ${f4(s.fusionfm_ms)} ms, DDIM S=${s.ddim_steps} ${f4(s.ddim_ms)} ms: <b>${f4(s.ratio)}x</b> ${s.matched ? '(the fewest DDIM steps that reach FusionFM k=1\'s composite)' : '(DDIM never reached FusionFM k=1\'s composite; its largest S)'}</li>`).join('\n');
  const shown = ['FusionFM k=1', `DDIM S=${r.speedup[0]?.ddim_steps}`].filter((n) => ex.fused.has(n));
  const figs = [['source A', ex.a], ['source B', ex.b], ...shown.map((n) => [n, ex.fused.get(n)!] as const)]
    .map(([n, img]) => `<figure><img src="${dataUri(thumbnail(img as Image, 256))}"><figcaption>${esc(n as string)}</figcaption></figure>`).join('');
  const engine = r.engine.length
    ? `<h2>Engine and peers on this machine</h2><p>Same network, same input, outputs checked equal before timing; medians. Our engine runs on the adapter above; CPU peers on this machine's cores.</p><table><tr><th>case</th><th>impl</th><th>device</th><th>median ms</th><th>GFLOPS</th><th>from</th></tr>${r.engine.map((e) => `<tr><td>${esc(e.case)}</td><td>${esc(e.impl)}</td><td>${esc(e.device)}</td><td>${f4(e.median_ms)}</td><td>${e.gflops ? f4(e.gflops) : '-'}</td><td>${esc(e.source)} (${esc(e.commit)})</td></tr>`).join('')}</table>`
    : '<p>No engine benchmark of this adapter in bench/results (npm run bench:kernels, bench:cpu-peers, bench:torch).</p>';
  return `<!doctype html><html><head><meta charset="utf-8"><title>FusionFM vs diffusion (${r.task})</title>
<style>body{font-family:sans-serif;max-width:70rem;margin:1rem auto;padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}td:first-child{text-align:left}figure{display:inline-block;margin:4px}</style></head><body>
<h1>FusionFM vs the diffusion baseline: ${esc(r.task)} (${esc(r.dataset)} test split)</h1>
<p>Adapter <b>${esc(r.adapter)}</b>; commit ${esc(r.commit)}; command <code>${esc(r.command)}</code>.</p>
<p>Models: FusionFM <code>${esc(r.models.flow)}</code>, DDPM baseline <code>${esc(r.models.ddpm)}</code>${sameNet ? ' (same U-Net configuration)' : ' (<b>different U-Net configurations</b>: the comparison is not like for like)'}. Quality on ${r.pairs.length} test pairs (${esc(r.pairs.join(', '))}); composite: ${esc(r.composite_definition)}.</p>
<h2>Speedup of one step</h2><ul>${speed}</ul>
<h2>Quality versus time</h2>${sizes.map((s) => plot(r, s)).join('\n')}
<h2>Table</h2>${table}
<h2>Example (${esc(ex.name)})</h2>${figs}
${engine}
</body></html>
`;
}
