/** State dicts: a module's parameters by dotted name, to and from host arrays. */
import { InputError } from '../util/errors.js';
import type { Module } from './module.js';
import type { HostTensor } from './safetensors.js';

export async function stateDict(m: Module): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, p] of m.namedParameters()) out.set(name, { shape: [...p.shape], data: await p.data() });
  return out;
}

/**
 * Copies host values into the module's parameters. Every parameter must be present with its
 * exact shape (a checkpoint of another architecture fails here, naming the first mismatch);
 * with strict, unexpected names fail too. Nothing is written unless everything matches.
 */
export function loadStateDict(m: Module, state: Map<string, HostTensor>, source = 'checkpoint', strict = true): void {
  const params = m.namedParameters();
  for (const [name, p] of params) {
    const t = state.get(name);
    if (!t) throw new InputError(`${source}: parameter '${name}' [${p.shape}] is missing (the checkpoint holds a different architecture?)`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new InputError(`${source}: parameter '${name}' has shape [${t.shape}], the model expects [${p.shape}] (different architecture)`);
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) throw new InputError(`${source}: parameter '${name}' holds a non-finite value at index ${i}`);
    }
  }
  if (strict) {
    const known = new Set(params.map(([n]) => n));
    const extra = [...state.keys()].filter((k) => !known.has(k));
    if (extra.length) throw new InputError(`${source}: unexpected parameters ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''} (different architecture?)`);
  }
  for (const [name, p] of params) p.write(state.get(name)!.data);
}
