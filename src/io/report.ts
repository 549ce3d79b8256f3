/** Evaluation outputs: CSV tables and an HTML report with thumbnails, written atomically. */
import jpeg from 'jpeg-js';
import { makeImage, type Image } from '../fusion/image.js';

export function csv(rows: (string | number)[][]): string {
  const cell = (v: string | number) => {
    const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : 'NaN') : v;
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

/** Box-downscaled copy no wider/taller than `max` pixels. */
export function thumbnail(img: Image, max = 160): Image {
  const s = Math.max(1, Math.ceil(Math.max(img.width, img.height) / max));
  const w = Math.max(1, Math.floor(img.width / s));
  const h = Math.max(1, Math.floor(img.height / s));
  const planes = img.planes.map((p) => {
    const out = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let u = 0; u < s; u++) for (let v = 0; v < s; v++) sum += p[(y * s + u) * img.width + x * s + v]!;
      out[y * w + x] = sum / (s * s);
    }
    return out;
  });
  return makeImage(w, h, planes, 8, img.source);
}

/** A JPEG data URI (quality 85): thumbnails of photos are 5-10x smaller than as PNG. */
export function dataUri(img: Image): string {
  const n = img.width * img.height;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.round(Math.min(1, Math.max(0, img.planes[img.planes.length === 1 ? 0 : c]![i]!)) * 255);
    rgba[i * 4 + 3] = 255;
  }
  return `data:image/jpeg;base64,${jpeg.encode({ width: img.width, height: img.height, data: rgba }, 85).data.toString('base64')}`;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface ReportInput {
  title: string;
  metrics: { id: string; higherIsBetter: boolean }[];
  /** mean per method, in metric order */
  means: { method: string; values: number[] }[];
  /** rows of thumbnails: pair name, sources, and each method's result */
  gallery: { pair: string; a: string; b: string; results: { method: string; uri: string }[] }[];
  notes: string[];
}

export function htmlReport(r: ReportInput): string {
  const best = r.metrics.map((m, k) => {
    const vals = r.means.map((row) => row.values[k]!).filter(Number.isFinite);
    return vals.length ? (m.higherIsBetter ? Math.max(...vals) : Math.min(...vals)) : NaN;
  });
  const head = `<tr><th>method</th>${r.metrics.map((m) => `<th>${esc(m.id)} ${m.higherIsBetter ? '&uarr;' : '&darr;'}</th>`).join('')}</tr>`;
  const rows = r.means.map((row) => `<tr><td>${esc(row.method)}</td>${row.values.map((v, k) => `<td${v === best[k] ? ' class="best"' : ''}>${Number.isFinite(v) ? Number(v.toPrecision(5)) : 'NaN'}</td>`).join('')}</tr>`).join('\n');
  const gallery = r.gallery.map((g) => `<h3>${esc(g.pair)}</h3><div class="row"><figure><img src="${g.a}"><figcaption>source A</figcaption></figure><figure><img src="${g.b}"><figcaption>source B</figcaption></figure>${g.results.map((x) => `<figure><img src="${x.uri}"><figcaption>${esc(x.method)}</figcaption></figure>`).join('')}</div>`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}.best{font-weight:bold;background:#dfd}.row{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0}figcaption{font-size:12px;text-align:center}</style></head>
<body><h1>${esc(r.title)}</h1>${r.notes.map((n) => `<p>${esc(n)}</p>`).join('')}<h2>Mean over pairs</h2><table>${head}\n${rows}</table><h2>Sources and results</h2>${gallery}</body></html>\n`;
}
