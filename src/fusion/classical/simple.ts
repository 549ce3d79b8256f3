/** The two baselines every fusion paper starts from. */

export function averageFuse(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => (v + b[i]!) / 2);
}

export function maxFuse(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => Math.max(v, b[i]!));
}
