/**
 * Node-only: opens the Dawn WebGPU implementation from the npm package `webgpu`.
 * Imported only by the Node entry (src/node.ts), never by the browser-safe core.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceError } from '../util/errors.js';
import { createRuntime, NO_ADAPTER_HELP, type GpuRuntime, type RuntimeOptions } from './runtime.js';

let shared: Promise<GpuRuntime> | null = null;

/** A new runtime on the Dawn device (Vulkan: a real GPU, or lavapipe on machines without one). */
export async function createNodeRuntime(opts: RuntimeOptions = {}): Promise<GpuRuntime> {
  if (!process.env.XDG_RUNTIME_DIR) {
    // Vulkan loaders and Mesa warn or fail without it; a private temp dir is enough
    const dir = join(tmpdir(), `xdg-runtime-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new DeviceError(`the npm package 'webgpu' (Dawn for Node) could not be loaded: ${(e as Error).message}\nRun npm install.`);
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  try {
    return await createRuntime(gpu, opts);
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    throw new DeviceError(`${NO_ADAPTER_HELP}\n(cause: ${(e as Error).message})`);
  }
}

/** One runtime per process, created on first use. */
export function getNodeRuntime(): Promise<GpuRuntime> {
  return (shared ??= createNodeRuntime());
}
