/**
 * Size of the browser build of the core engine and of FusionFM (src/index.ts: kernels with
 * their WGSL, autograd, nn, the model, fusers and metrics), minified ES module, raw and gzipped,
 * as a page that imports the package would ship it. Built with Vite (Rollup + esbuild minify).
 *
 *   npm run bench:bundle   ->  bench/results/bundle-size.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Rollup } from 'vite';
import { gitCommit } from '../../src/io/provenance.js';

const entries = { engine: 'src/engine.ts', 'engine + FusionFM': 'src/index.ts' };
const results: Record<string, unknown>[] = [];
for (const [name, entry] of Object.entries(entries)) {
  const out = (await build({
    configFile: false, logLevel: 'error',
    build: { lib: { entry, formats: ['es'], fileName: name.replace(/\W+/g, '-') }, write: false, minify: true, target: 'es2022', rollupOptions: { external: [] } },
  })) as Rollup.RollupOutput[];
  const chunks = out.flatMap((o) => o.output).filter((c): c is Rollup.OutputChunk => c.type === 'chunk');
  const code = chunks.map((c) => c.code).join('\n');
  const nodeImports = chunks.flatMap((c) => c.imports).filter((i) => /^(node:|fs|path|webgpu)/.test(i));
  if (nodeImports.length) throw new Error(`${entry}: the browser build imports ${nodeImports.join(', ')}`);
  results.push({ name, entry, bytes: Buffer.byteLength(code), gzip_bytes: gzipSync(code, { level: 9 }).length, chunks: chunks.length });
}
const report = { bench: 'bundle-size', adapter: 'none (build only)', commit: gitCommit(), command: 'npm run bench:bundle', tool: 'vite build (lib, es, minify)', results };
mkdirSync('bench/results', { recursive: true });
writeFileSync(join('bench/results', 'bundle-size.json'), JSON.stringify(report, null, 1) + '\n');
console.log(JSON.stringify(report, null, 1));
