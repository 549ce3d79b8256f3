/** Enforces the layer table of docs/architecture.md: each layer imports only layers above it. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
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

export function violations(root: string): string[] {
  const out: string[] = [];
  for (const file of files(join(root, 'src'))) {
    const rel = relative(root, file).replaceAll('\\', '/');
    const from = layerOf(rel);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
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

describe('layering', () => {
  it('every import under src/ respects the layer order', () => {
    expect(violations(process.cwd())).toEqual([]);
  });
  it('the check itself catches an upward import', () => {
    expect(ORDER.length).toBe(8);
    const fake = /^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm;
    expect([..."import { x } from '../nn/module.js';".matchAll(fake)].length).toBe(1);
    expect(RANK.nn! > RANK.kernels!).toBe(true);
  });
});
