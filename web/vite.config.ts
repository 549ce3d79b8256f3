/**
 * The demo page (web/): `npm run demo:web` serves it, `npx vite build --config web/vite.config.ts`
 * writes a static copy to dist-web/. The page fetches the bundled sample pairs and the default
 * checkpoint by URL; this plugin serves them from the repository in development and copies
 * them into the build, so there is one copy of each file.
 */
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SHARED = ['samples', 'checkpoints/default.safetensors'];

function files(p: string): string[] {
  return statSync(p).isDirectory() ? readdirSync(p).flatMap((f) => files(join(p, f))) : [p];
}

function repoAssets(): Plugin {
  const allowed = (url: string) => SHARED.some((s) => url === `/${s}` || url.startsWith(`/${s}/`));
  return {
    name: 'fusionfm-repo-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = decodeURIComponent((req.url ?? '').split('?')[0]!);
        const path = resolve(repo, `.${url}`);
        if (!allowed(url) || !path.startsWith(repo + sep) || !existsSync(path) || !statSync(path).isFile()) return next();
        res.setHeader('Content-Type', path.endsWith('.png') ? 'image/png' : path.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream');
        createReadStream(path).pipe(res);
      });
    },
    generateBundle() {
      for (const s of SHARED) for (const f of files(join(repo, s))) {
        this.emitFile({ type: 'asset', fileName: relative(repo, f).split(sep).join('/'), source: readFileSync(f) });
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  publicDir: false,
  plugins: [repoAssets()],
  server: { port: 5173, fs: { allow: [repo] } },
  build: { outDir: join(repo, 'dist-web'), emptyOutDir: true, target: 'es2022' },
});
