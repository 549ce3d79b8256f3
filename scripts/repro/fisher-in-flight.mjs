// A segfault seen four times at the end of a task in continual training, inside the Fisher
// estimate, each time while another Dawn process loaded the 2 cores (lavapipe, Mesa 25.0.7;
// npm webgpu 0.6.2). Under gdb (2026-11-26, training resumed at step 400, crash at the step-450
// Fisher) the native stack was:
//   #0 __memset_avx512_unaligned_erms
//   #1-2 libvulkan_lvp.so (vkCreateDescriptorPool)
//   #3 dawn::native::vulkan::DescriptorSetAllocator::AllocateDescriptorPool
//   #4 DescriptorSetAllocator::Allocate  #5 BindGroupLayout::AllocateBindGroup
//   #6 vulkan::BindGroup::Create ... #10 wgpu::binding::GPUDevice::createBindGroup
// i.e. lavapipe crashes while Dawn creates yet another descriptor pool for the bind groups of
// work that is recorded but not finished. The workaround (src/nn/fisher.ts) waits for the
// device after every sample, so at most one sample's bind groups are alive.
// The Fisher loop records 64 per-sample forward + backward passes and their squared-gradient
// accumulation without waiting for the device once, so thousands of dispatches and freed-and-
// reused pool buffers are in flight at a time. This script runs that loop over and over; run it
// beside another Dawn process. Alone it did NOT crash in 24 + 18 rounds under such load, so the
// crash needs more than this loop (a long training process's state); the backtrace above is
// from the training command itself:
//   node scripts/repro/fisher-in-flight.mjs [--sync] [--rounds 30]
// --sync waits for the device after every sample (the workaround under test).
import { backward } from '../../dist/src/autograd/backward.js';
import { tensor } from '../../dist/src/autograd/create.js';
import { add, square } from '../../dist/src/autograd/ops.js';
import { noGrad, scope, tidy, useRuntime } from '../../dist/src/autograd/tensor.js';
import { flowMatchingLoss } from '../../dist/src/fusion/flow/loss.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../dist/src/fusion/flow/model.js';
import { getNodeRuntime } from '../../dist/src/gpu/node-device.js';
import { withInitSeed } from '../../dist/src/nn/module.js';

const sync = process.argv.includes('--sync');
const ri = process.argv.indexOf('--rounds');
const rounds = ri > 0 ? Number(process.argv[ri + 1]) : 30;
const rt = await getNodeRuntime();
useRuntime(rt);
const net = withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY));
const params = net.parameters();
const S = 64;
const img = (k) => Float32Array.from({ length: S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i / (5 + k)));
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  const acc = new Map(noGrad(() => params.map((p) => [p, square(p).keep()])));
  for (let i = 0; i < 64; i++) {
    await scope(async () => {
      for (const p of params) p.grad?.dispose(), (p.grad = null);
      backward(flowMatchingLoss(net, tensor(img(1), [1, 1, S, S]), tensor(img(2), [1, 1, S, S]), tensor(img(3), [1, 1, S, S]), [(i % 10) / 10], 'sum', i));
      noGrad(() => tidy(() => {
        for (const p of params) {
          if (!p.grad) continue;
          const f = acc.get(p);
          const next = add(f, square(p.grad));
          p.rt.copy(next.storage, 0, f.storage, 0, f.size * 4);
        }
      }));
      if (sync) await rt.sync();
    });
  }
  for (const f of acc.values()) f.dispose();
  await rt.sync();
  console.log(`round ${r + 1}/${rounds}: ${(performance.now() - t0).toFixed(0)} ms (sync per sample: ${sync})`);
}
rt.destroy();
