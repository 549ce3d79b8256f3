import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backward } from '../src/autograd/backward.js';
import { tensor } from '../src/autograd/create.js';
import { mseLoss } from '../src/autograd/ops.js';
import { noGrad, scope } from '../src/autograd/tensor.js';
import { fuseImages } from '../src/fusion/flow/fuse.js';
import { flowMatchingLoss } from '../src/fusion/flow/loss.js';
import { VelocityNet, type VelocityConfig } from '../src/fusion/flow/model.js';
import { flowSource } from '../src/fusion/flow/path.js';
import { integrate } from '../src/fusion/flow/sampler.js';
import { FlowTrainer, type Triple } from '../src/fusion/flow/trainer.js';
import { makeImage } from '../src/fusion/image.js';
import { loadFlowModel, saveFlowModel } from '../src/io/flow-checkpoint.js';
import { withInitSeed } from '../src/nn/module.js';
import { AdamW } from '../src/nn/optim.js';
import { stateDict } from '../src/nn/state.js';
import { SeededRng } from '../src/util/rng.js';
import { gpu } from './helpers.js';

const S = 16;
const cfg: VelocityConfig = { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attention: false, heads: 1, groups: 4, timeDim: 8, head: 'blend' };
const wave = (seed: number) => Float32Array.from({ length: S * S }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37 + seed));
const maxAbsDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);

describe('task conditioning', () => {
  it('a task-conditioned net answers each task differently from the start (unit-variance embedding rows, as torch.nn.Embedding), and it names the task it needs', async () => {
    await gpu();
    const plain = withInitSeed(2, () => new VelocityNet(cfg));
    const cond = withInitSeed(2, () => new VelocityNet({ ...cfg, tasks: ['mef', 'mff'] }));
    const [xA, xB] = [tensor(wave(1), [1, 1, S, S]).keep(), tensor(wave(2), [1, 1, S, S]).keep()];
    const x0 = flowSource('sum', xA, xB).keep();
    const p = await noGrad(() => plain.forward(x0, xA, xB, [0], x0)).data();
    // the rows are drawn after the U-Net's weights: the seeded U-Net is the same with or without them
    expect(maxAbsDiff(await cond.unet.convIn.weight.data(), await plain.unet.convIn.weight.data())).toBe(0);
    const [mef, mff] = [await noGrad(() => cond.forward(x0, xA, xB, [0], x0, 'mef')).data(), await noGrad(() => cond.forward(x0, xA, xB, [0], x0, 'mff')).data()];
    expect(maxAbsDiff(mef, mff)).toBeGreaterThan(1e-4);
    // a batch of per-sample tasks is the tasks evaluated one by one
    const two = async (x: typeof xA) => { const d = await x.data(); return tensor(Float32Array.from([...d, ...d]), [2, 1, S, S]).keep(); };
    const [x02, xA2, xB2] = [await two(x0), await two(xA), await two(xB)];
    const both = await noGrad(() => cond.forward(x02, xA2, xB2, [0, 0], x02, ['mff', 'mef'])).data();
    expect(maxAbsDiff(both.subarray(0, S * S), mff)).toBeLessThan(1e-6);
    expect(maxAbsDiff(both.subarray(S * S), mef)).toBeLessThan(1e-6);
    // an unconditioned net ignores a task
    expect(maxAbsDiff(await noGrad(() => plain.forward(x0, xA, xB, [0], x0, 'ivf')).data(), p)).toBe(0);
    expect(() => noGrad(() => cond.forward(x0, xA, xB, [0], x0))).toThrow('this model is task-conditioned: name its task (one of mef, mff)');
    expect(() => noGrad(() => cond.forward(x0, xA, xB, [0], x0, 'ivf'))).toThrow("this model is conditioned on mef, mff, not 'ivf'");
    expect(() => noGrad(() => cond.forward(x0, xA, xB, [0], x0, ['mef', 'mff']))).toThrow('VelocityNet: expected 1 task names, got 2');
    const img = (seed: number) => makeImage(S, S, [wave(seed)]);
    await expect(fuseImages(cond, img(1), img(2), { steps: 1 })).rejects.toThrow('the model is task-conditioned on mef, mff: name the task to fuse for');
    await expect(fuseImages(cond, img(1), img(2), { steps: 1, task: 'ivf' })).rejects.toThrow("the model is task-conditioned on mef, mff: not on 'ivf'");
    expect(() => new VelocityNet({ ...cfg, tasks: ['mef', 'mef'] })).toThrow('VelocityNet: the conditioning tasks must be a list of distinct task names, got ["mef","mef"]');
    expect(() => new VelocityNet({ ...cfg, timeDim: null as never, tasks: ['mef'] })).toThrow('VelocityNet: task conditioning needs a time embedding (timeDim)');
    plain.dispose();
    cond.dispose();
  });

  it('learns a different rule per task from the same sources: one net picks A for one task and B for the other, which an unconditioned net cannot', async () => {
    await gpu();
    // one batch, the same sources twice: task 'a' is labelled with source A, task 'b' with source B
    const a = wave(1), b = wave(4);
    const two = (x: Float32Array) => tensor(Float32Array.from([...x, ...x]), [2, 1, S, S]).keep();
    const [xA, xB] = [two(a), two(b)];
    const x1 = tensor(Float32Array.from([...a, ...b]), [2, 1, S, S]).keep();
    const trained = async (config: VelocityConfig) => {
      const net = withInitSeed(3, () => new VelocityNet(config));
      const opt = new AdamW(net.parameters(), { lr: 3e-3, weightDecay: 0 });
      const rng = new SeededRng(5);
      for (let step = 0; step < 60; step++) {
        await scope(async () => {
          net.zeroGrad();
          backward(flowMatchingLoss(net, xA, xB, x1, [rng.next(), rng.next()], 'sum', { task: ['a', 'b'] }));
          await opt.step();
        });
      }
      return net;
    };
    const cond = await trained({ ...cfg, tasks: ['a', 'b'] });
    const plain = await trained(cfg);
    const oneStep = async (net: VelocityNet, task: string) => {
      const xa = tensor(a, [1, 1, S, S]), xb = tensor(b, [1, 1, S, S]);
      return noGrad(() => integrate(net, flowSource('sum', xa, xb), xa, xb, 1, 'euler', task)).data();
    };
    const mse = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / x.length;
    const [ca, cb] = [await oneStep(cond, 'a'), await oneStep(cond, 'b')];
    const sep = mse(a, b);
    console.log(`task conditioning: conditioned net, task a to A ${mse(ca, a).toExponential(2)}, task b to B ${mse(cb, b).toExponential(2)}; A to B ${sep.toExponential(2)}`);
    expect(mse(ca, a)).toBeLessThan(sep / 10);
    expect(mse(cb, b)).toBeLessThan(sep / 10);
    // the unconditioned net answers both tasks alike, so at best halfway: its error is at least a quarter of the separation
    const p = await oneStep(plain, 'a');
    console.log(`task conditioning: unconditioned net, to A ${mse(p, a).toExponential(2)}, to B ${mse(p, b).toExponential(2)}`);
    expect((mse(p, a) + mse(p, b)) / 2).toBeGreaterThan(sep / 4 - 1e-6);
    cond.dispose();
    plain.dispose();
  }, 300_000);

  it('training draws each sample with its task (a pair group is a task) and only the rows of tasks trained move; model files keep the tasks', async () => {
    await gpu();
    const pair = (group: string, seed: number): Triple => {
      const a = Float32Array.from({ length: 24 * 20 }, (_, i) => 0.5 + 0.4 * Math.sin(i / 5 + seed));
      const b = Float32Array.from({ length: 24 * 20 }, (_, i) => 0.5 + 0.4 * Math.cos(i / 7 + seed));
      return { name: `${group}/p`, w: 24, h: 20, a, b, label: a.map((v, i) => Math.max(v, b[i]!)), group };
    };
    const trainer = new FlowTrainer({
      model: { ...cfg, tasks: ['ivf', 'mef', 'mff'] }, coupling: 'sum', steps: 4, batch: 4, crop: 16, lr: 1e-3, warmup: 1, weightDecay: 1e-4, clipNorm: 1, emaDecay: 0.9, seed: 4,
    }, [pair('mef', 1), pair('mff', 2)]);
    const batch = new FlowTrainer(trainer.config, trainer.data).drawBatch();
    expect(batch.task.length).toBe(4);
    expect(batch.task.every((t) => t === 'mef' || t === 'mff')).toBe(true);
    const before = await trainer.net.taskEmbedding!.data();
    await trainer.run(4, () => {});
    const rows = await trainer.net.taskEmbedding!.data();
    const dim = rows.length / 3;
    const rowMove = (k: number) => Math.max(...rows.subarray(k * dim, (k + 1) * dim).map((v, i) => Math.abs(v - before[k * dim + i]!)));
    // ivf has no pair: no gradient, only the decoupled weight decay (1e-7 of the value per step) moves its row
    expect(rowMove(0)).toBeLessThan(2e-6);
    expect(rowMove(1)).toBeGreaterThan(1e-4);
    expect(rowMove(2)).toBeGreaterThan(1e-4);
    const dir = mkdtempSync(join(tmpdir(), 'ffm-task-'));
    const path = join(dir, 'm.safetensors');
    saveFlowModel(path, await stateDict(trainer.net), { tasks: ['mef', 'mff'], config: trainer.config.model, coupling: 'sum', provenance: {} });
    const back = loadFlowModel(path);
    expect(back.net.conditionTasks).toEqual(['ivf', 'mef', 'mff']);
    const src = makeImage(24, 20, [pair('mff', 3).a]);
    const other = makeImage(24, 20, [pair('mff', 3).b]);
    const f1 = await fuseImages(trainer.net, src, other, { task: 'mff' });
    const f2 = await fuseImages(back.net, src, other, { task: 'mff' });
    expect(maxAbsDiff(f1.planes[0]!, f2.planes[0]!)).toBe(0);
    saveFlowModel(join(dir, 'bad.safetensors'), await stateDict(trainer.net), { tasks: ['mff'], config: { ...trainer.config.model, tasks: [] }, coupling: 'sum', provenance: {} });
    expect(() => loadFlowModel(join(dir, 'bad.safetensors'))).toThrow('bad.safetensors: the model configuration: the conditioning tasks must be a list of distinct task names, got []');
    trainer.dispose();
    back.net.dispose();
  }, 300_000);
});

/** Zeroes a blend-head net's output convolution but its bias: a weight logit and a residual constant over the image. */
function constantHead(net: VelocityNet, logit: number, residual: number): void {
  const conv = net.unet.convOut;
  conv.weight.write(new Float32Array(conv.weight.size));
  conv.bias!.write(Float32Array.from([logit, residual]));
}

/** Two different sources, their flow source, and all three read back. */
async function twoSources() {
  const [xA, xB] = [tensor(wave(4), [1, 1, S, S]).keep(), tensor(wave(9), [1, 1, S, S]).keep()];
  const x0 = flowSource('sum', xA, xB).keep();
  return { xA, xB, x0, a: await xA.data(), b: await xB.data(), x: await x0.data() };
}

describe('the inference choice rule (INFERENCE_CHOICE)', () => {
  it('an IVF fusion (no gradients) takes the sharpened weight map without the residual, so identical sources come back exactly; training forwards, other tasks and FFM_BLEND_CHOICE=0 keep the soft head', async () => {
    await gpu();
    const net = withInitSeed(3, () => new VelocityNet({ ...cfg, tasks: ['ivf', 'mff'] }));
    const xA = tensor(wave(4), [1, 1, S, S]).keep();
    const x0 = flowSource('sum', xA, xA).keep();
    const fused = async (task: string, grad: boolean) => {
      const run = () => net.forward(x0, xA, xA, [0], x0, task);
      const v = await (grad ? run() : noGrad(run)).data();
      const x = await x0.data();
      return v.map((d, i) => d + x[i]!);
    };
    const a = await xA.data();
    // with xA = xB every choice is xA; only the residual moves the output away from it
    expect(maxAbsDiff(await fused('ivf', false), a)).toBeLessThan(1e-6);
    const soft = await fused('ivf', true);
    expect(maxAbsDiff(soft, a)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(await fused('mff', false), await fused('mff', true))).toBeLessThan(1e-6);
    process.env.FFM_BLEND_CHOICE = '0';
    try {
      expect(maxAbsDiff(await fused('ivf', false), soft)).toBeLessThan(1e-6);
    } finally {
      delete process.env.FFM_BLEND_CHOICE;
    }
    net.dispose();
  });
  it('the IVF choice sharpens the weight logit a hundredfold: a logit of 0.01 everywhere weighs the sources by sigmoid(1), the residual dropped', async () => {
    await gpu();
    const net = withInitSeed(3, () => new VelocityNet({ ...cfg, tasks: ['ivf', 'mff'] }));
    constantHead(net, 0.01, 0.05);
    const { xA, xB, x0, a, b, x } = await twoSources();
    const v = await noGrad(() => net.forward(x0, xA, xB, [0], x0, 'ivf')).data();
    const fused = v.map((d, i) => d + x[i]!);
    const w = 1 / (1 + Math.exp(-1));
    expect(maxAbsDiff(fused, a.map((ai, i) => b[i]! + w * (ai - b[i]!)))).toBeLessThan(1e-5);
    net.dispose();
  });
});

describe('the inference rule of choice-trained tasks (CHOICE_TRAINED_INFERENCE)', () => {
  it("a model whose map was trained with the choice term for multi-focus fuses it (no gradients) by the map sharpened fivefold, the residual kept; the same weights without that record, and training forwards, keep the soft head", async () => {
    await gpu();
    const net = withInitSeed(3, () => new VelocityNet({ ...cfg, tasks: ['ivf', 'mff'], choiceTrained: ['ivf', 'mff'] }));
    const plain = withInitSeed(3, () => new VelocityNet({ ...cfg, tasks: ['ivf', 'mff'] }));
    // a weight logit of 0.1 everywhere and a residual of 0.05: soft weight sigmoid(0.1), sharpened sigmoid(0.5)
    for (const n of [net, plain]) constantHead(n, 0.1, 0.05);
    const { xA, xB, x0, a, b, x } = await twoSources();
    const fused = async (m: VelocityNet, grad: boolean) => {
      const run = () => m.forward(x0, xA, xB, [0], x0, 'mff');
      const v = await (grad ? run() : noGrad(run)).data();
      return v.map((d, i) => d + x[i]!);
    };
    const blend = (s: number) => a.map((ai, i) => b[i]! + s * (ai - b[i]!) + 0.05);
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    expect(maxAbsDiff(await fused(net, false), blend(sig(0.5)))).toBeLessThan(1e-5);
    expect(maxAbsDiff(await fused(net, true), blend(sig(0.1)))).toBeLessThan(1e-5);
    expect(maxAbsDiff(await fused(plain, false), blend(sig(0.1)))).toBeLessThan(1e-5);
    net.dispose();
    plain.dispose();
  });
});
