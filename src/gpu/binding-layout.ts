/**
 * The storage-binding types an entry point needs, read from its WGSL, so that the runtime can
 * build explicit bind-group layouts (a dynamic-offset uniform at binding 0, storage buffers at
 * 1..n) instead of `layout: 'auto'`: auto layouts cannot take dynamic offsets, so every dispatch
 * needed a new bind group. One file may declare the same binding number twice with different
 * access for different entry points (norm.wgsl does), so the answer is per entry point: the
 * declarations its body, and the functions it calls, name.
 */

export type StorageBindingType = 'read-only-storage' | 'storage';

interface Declaration {
  binding: number;
  type: StorageBindingType;
  name: string;
}

const DECL = /@group\(0\)\s*@binding\((\d+)\)\s*var<storage\s*,\s*(read|read_write)\s*>\s*(\w+)/g;
const FN = /\bfn\s+(\w+)\s*\(/g;
/** identifiers, not member names (`wid.y` must not count as a use of a buffer named y) */
const IDENT = /(?<![.\w])[A-Za-z_]\w*/g;

/** Top-level function bodies by name (brace-matched from the first '{' after the signature). */
function functionBodies(code: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of code.matchAll(FN)) {
    const open = code.indexOf('{', m.index! + m[0].length);
    if (open < 0) continue;
    let depth = 0;
    let end = open;
    for (; end < code.length; end++) {
      if (code[end] === '{') depth++;
      else if (code[end] === '}' && --depth === 0) break;
    }
    out.set(m[1]!, code.slice(open, end + 1));
  }
  return out;
}

/** Every identifier the entry point's body names, following the functions it calls. */
function namesUsedBy(entry: string, bodies: Map<string, string>): Set<string> | null {
  if (!bodies.has(entry)) return null;
  const names = new Set<string>();
  const todo = [entry];
  const seen = new Set<string>();
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const [id] of bodies.get(f)!.matchAll(IDENT)) {
      names.add(id);
      if (bodies.has(id) && !seen.has(id)) todo.push(id);
    }
  }
  return names;
}

/**
 * The binding type of storage bindings 1..count for `entry`, or null when the WGSL does not say
 * it unambiguously (the caller then falls back to an automatic layout).
 */
export function storageBindingTypes(code: string, entry: string, count: number): StorageBindingType[] | null {
  const decls: Declaration[] = [...code.matchAll(DECL)].map((m) => ({ binding: Number(m[1]), type: m[2] === 'read' ? 'read-only-storage' : 'storage', name: m[3]! }));
  const used = namesUsedBy(entry, functionBodies(code));
  if (!used) return null;
  const out: StorageBindingType[] = [];
  for (let b = 1; b <= count; b++) {
    const all = decls.filter((d) => d.binding === b);
    const mine = all.filter((d) => used.has(d.name));
    const types = new Set((mine.length ? mine : all).map((d) => d.type));
    if (types.size !== 1) return null;
    out.push([...types][0]!);
  }
  return out;
}
