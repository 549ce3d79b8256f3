/** Enforces the layer table of docs/architecture.md: each layer imports only layers above it. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ORDER = ['util', 'gpu', 'kernels', 'autograd', 'nn', 'fusion', 'io', 'cli'] as const;
// io and cli share DESIGN.md's last row; cli is the top (it may use io, never the reverse)
const RANK: Record<string, number> = { util: 0, gpu: 1, kernels: 2, autograd: 3, nn: 4, fusion: 5, io: 6, cli: 7 };
/** the browser-safe core must not touch Node built-ins or the Dawn package */
const NODE_ONLY = /^(node:|fs$|path$|os$|child_process$|webgpu$)/;
const NODE_ALLOWED = new Set(['src/gpu/node-device.ts', 'src/node.ts']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(rel: string): string | null {
  const m = /^src\/([^/]+)\//.exec(rel);
  return m ? m[1]! : null;
}

/** Every module a file names: `import/export ... from`, side-effect imports, and inline `import('...')` (types or dynamic). */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The project files a file imports (relative specifiers, .js resolved to the .ts source). */
function localImports(root: string, file: string): string[] {
  return specifiers(readFileSync(file, 'utf8'))
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(root, resolve(dirname(file), s.replace(/\.js$/, '.ts'))).replaceAll('\\', '/'));
}

export function violations(root: string): string[] {
  const out: string[] = [];
  for (const file of files(join(root, 'src'))) {
    const rel = relative(root, file).replaceAll('\\', '/');
    const from = layerOf(rel);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = relative(root, resolve(dirname(file), spec)).replaceAll('\\', '/');
        const to = layerOf(target);
        if (from && to && from !== to && RANK[to]! > RANK[from]!) out.push(`${rel} (${from}) imports ${target} (${to})`);
        if (from && to && from !== to && RANK[to] === RANK[from]) out.push(`${rel} (${from}) imports ${target} (${to}), a sibling layer`);
      } else if (NODE_ONLY.test(spec) && from && RANK[from]! <= RANK.fusion! && !NODE_ALLOWED.has(rel)) {
        out.push(`${rel} (${from}) imports '${spec}', which the browser-safe core must not`);
      }
    }
  }
  return out;
}

/** Import cycles among the files under src/ (each as a path a -> b -> ... -> a), found by depth-first search. */
export function cycles(root: string): string[] {
  const graph = new Map(files(join(root, 'src')).map((f) => [relative(root, f).replaceAll('\\', '/'), localImports(root, f)]));
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (!graph.has(m)) continue;
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m].join(' -> '));
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

describe('layering', () => {
  it('every import under src/ respects the layer order', () => {
    expect(violations(process.cwd())).toEqual([]);
  });
  it('no two modules under src/ import each other, directly or through others', () => {
    expect(cycles(process.cwd())).toEqual([]);
  });
  it('the check itself catches an upward import, an inline type import and a cycle', () => {
    expect(ORDER.length).toBe(8);
    expect(specifiers("import { x } from '../nn/module.js';")).toEqual(['../nn/module.js']);
    expect(specifiers("let s: import('../../gpu/runtime.js').Storage;")).toEqual(['../../gpu/runtime.js']);
    expect(RANK.nn! > RANK.kernels!).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'layering-'));
    mkdirSync(join(dir, 'src', 'cli'), { recursive: true });
    mkdirSync(join(dir, 'src', 'fusion'), { recursive: true });
    writeFileSync(join(dir, 'src', 'cli', 'a.ts'), "import { b } from './b.js';\n");
    writeFileSync(join(dir, 'src', 'cli', 'b.ts'), "import type { A } from './a.js';\n");
    writeFileSync(join(dir, 'src', 'fusion', 'c.ts'), "export let s: import('../cli/a.js').A;\n");
    expect(cycles(dir)).toEqual(['src/cli/a.ts -> src/cli/b.ts -> src/cli/a.ts']);
    expect(violations(dir)).toEqual(['src/fusion/c.ts (fusion) imports src/cli/a.js (cli)']);
    rmSync(dir, { recursive: true, force: true });
  });
});
