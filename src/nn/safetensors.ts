/**
 * safetensors encoding (https://github.com/huggingface/safetensors): 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__: {str: str}},
 * then the raw little-endian tensor bytes. Only F32 is written; F32, F16 and BF16 are read.
 */
import { InputError } from '../util/errors.js';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new InputError(`safetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  // pad so the data starts 8-byte aligned, as the reference implementation does
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.length;
  for (const t of tensors.values()) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Parses safetensors bytes; `source` names the file in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'checkpoint'): DecodedSafetensors {
  if (bytes.length < 8) throw new InputError(`${source}: not a safetensors file (${bytes.length} bytes, need at least 8)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(view.getBigUint64(0, true));
  if (hlen > bytes.length - 8 || hlen > 100_000_000) throw new InputError(`${source}: header length ${hlen} exceeds the file (${bytes.length} bytes); the file is truncated or not safetensors`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    throw new InputError(`${source}: the safetensors header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + hlen;
  const dataLen = bytes.length - base;
  const tensors = new Map<string, HostTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [b, end] = e.data_offsets ?? [];
    const n = (e.shape ?? []).reduce((a, c) => a * c, 1);
    const width = e.dtype === 'F32' ? 4 : e.dtype === 'F16' || e.dtype === 'BF16' ? 2 : 0;
    if (!width) throw new InputError(`${source}: tensor '${name}' has dtype ${e.dtype}; expected F32, F16 or BF16`);
    if (b === undefined || end === undefined || end > dataLen || end - b !== n * width) {
      throw new InputError(`${source}: tensor '${name}' [${e.shape}] has byte range [${b}, ${end}) but the data section holds ${dataLen} bytes; the file is truncated or corrupt`);
    }
    const data = new Float32Array(n);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + base + b, end - b);
    for (let i = 0; i < n; i++) {
      if (width === 4) data[i] = dv.getFloat32(i * 4, true);
      else if (e.dtype === 'F16') data[i] = halfToFloat(dv.getUint16(i * 2, true));
      else data[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0]!;
    }
    tensors.set(name, { shape: [...e.shape], data });
  }
  return { tensors, metadata };
}
