/**
 * The one uniform packer. A kernel's uniform struct is described as an ordered list of
 * fields; offsets follow WGSL's host-shareable layout rules (scalars align to 4, vec2 to 8,
 * vec3 and vec4 to 16, arrays of vec4 stride 16, struct size rounded up to 16).
 */
export type UniformType = 'u32' | 'i32' | 'f32' | 'vec2u' | 'vec3u' | 'vec4u' | 'vec4f' | 'vec4i';

export type UniformField = readonly [name: string, type: UniformType, count?: number];

const INFO: Record<UniformType, { align: number; size: number; comps: number; kind: 'u' | 'i' | 'f' }> = {
  u32: { align: 4, size: 4, comps: 1, kind: 'u' },
  i32: { align: 4, size: 4, comps: 1, kind: 'i' },
  f32: { align: 4, size: 4, comps: 1, kind: 'f' },
  vec2u: { align: 8, size: 8, comps: 2, kind: 'u' },
  vec3u: { align: 16, size: 12, comps: 3, kind: 'u' },
  vec4u: { align: 16, size: 16, comps: 4, kind: 'u' },
  vec4i: { align: 16, size: 16, comps: 4, kind: 'i' },
  vec4f: { align: 16, size: 16, comps: 4, kind: 'f' },
};

export interface UniformLayout {
  fields: { name: string; type: UniformType; count: number; offset: number }[];
  size: number;
}

export function uniformLayout(fields: readonly UniformField[]): UniformLayout {
  let offset = 0;
  const out: UniformLayout['fields'] = [];
  for (const [name, type, count] of fields) {
    const info = INFO[type];
    const n = count ?? 0; // 0 = plain field, n >= 1 = array<type, n>
    const align = n ? Math.max(info.align, 16) : info.align;
    offset = Math.ceil(offset / align) * align;
    out.push({ name, type, count: n, offset });
    offset += n ? n * Math.max(16, info.size) : info.size;
  }
  return { fields: out, size: Math.max(16, Math.ceil(offset / 16) * 16) };
}

export type UniformValues = Record<string, number | readonly number[]>;

/** Writes values into `target` (a DataView over at least layout.size bytes) at byte `base`. */
export function packUniforms(layout: UniformLayout, values: UniformValues, target: DataView, base = 0): void {
  for (const f of layout.fields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`uniform '${f.name}' missing`);
    const info = INFO[f.type];
    const flat = typeof v === 'number' ? [v] : v;
    const total = (f.count || 1) * info.comps;
    if (flat.length > total) throw new Error(`uniform '${f.name}' has ${flat.length} values, room for ${total}`);
    const stride = f.count ? Math.max(16, info.size) : info.size;
    for (let i = 0; i < total; i++) {
      const slot = Math.floor(i / info.comps);
      const o = base + f.offset + slot * stride + (i % info.comps) * 4;
      const x = i < flat.length ? flat[i]! : 0;
      if (info.kind === 'f') target.setFloat32(o, x, true);
      else if (info.kind === 'i') target.setInt32(o, x, true);
      else target.setUint32(o, x >>> 0, true);
    }
  }
}
