/** Reading many one-value results back from the GPU at once. */
import { zeros } from '../autograd/create.js';
import { noGrad, tidy, type Tensor } from '../autograd/tensor.js';

/**
 * The first value of each tensor made by `each(i)`, i < n, gathered into one buffer on the GPU
 * and read back once. On a real GPU every readback is a round trip of milliseconds (on an H100,
 * one per parameter tensor made a training step 0.3 s), so per-tensor statistics are read this way.
 */
export async function readScalars(n: number, each: (i: number) => Tensor): Promise<Float32Array> {
  if (n === 0) return new Float32Array(0);
  const gathered = zeros([n]);
  noGrad(() => tidy(() => {
    for (let i = 0; i < n; i++) gathered.rt.copy(each(i).storage, 0, gathered.storage, 4 * i, 4);
  }));
  const values = await gathered.data();
  gathered.dispose();
  return values;
}
