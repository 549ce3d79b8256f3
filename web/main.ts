/**
 * The demo page: pick a task, two images (files, drag and drop, or a bundled sample pair),
 * fuse them with the default FusionFM checkpoint on the page's WebGPU adapter, and show the
 * result, the time, the adapter and a download link. Every failure is shown on the page in
 * plain words. `document.body.dataset.state` (loading, ready, busy, done, error, no-webgpu) and
 * `window.fusionfm` let tests drive and read the page.
 */
import {
  createRuntime, decodeFlowModel, decodeImageInBrowser, fuseImages, toRgba8, useRuntime,
  type GpuRuntime, type Image, type LoadedFlowModel,
} from '../src/index.js';

interface Sample { task: string; label: string; a: string; b: string }
const SAMPLES: Sample[] = [
  { task: 'ivf', label: 'VIFB carWhite (infrared, visible)', a: 'samples/ivf-VIFB/carWhite_a.jpg', b: 'samples/ivf-VIFB/carWhite_b.jpg' },
  { task: 'mif', label: 'MRI-CT 13', a: 'samples/mif-MRI-CT/13_a.png', b: 'samples/mif-MRI-CT/13_b.png' },
  { task: 'mif', label: 'MRI-PET 13', a: 'samples/mif-MRI-PET/13_a.png', b: 'samples/mif-MRI-PET/13_b.png' },
  { task: 'mef', label: 'MEFB ColorChecker (two exposures)', a: 'samples/mef-MEFB/ColorChecker_a.jpg', b: 'samples/mef-MEFB/ColorChecker_b.jpg' },
  { task: 'mff', label: 'Lytro 03 (two focus planes)', a: 'samples/mff-Lytro/lytro_03_a.jpg', b: 'samples/mff-Lytro/lytro_03_b.jpg' },
];
const CHECKPOINT = 'checkpoints/default.safetensors';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const sources: { a: Image | null; b: Image | null } = { a: null, b: null };
let runtime: GpuRuntime | null = null;
let model: LoadedFlowModel | null = null;
let downloadUrl: string | null = null;

interface PageApi { result: { width: number; height: number; rgba: Uint8ClampedArray; ms: number } | null; adapter: string | null }
const api: PageApi = { result: null, adapter: null };
(window as unknown as { fusionfm: PageApi }).fusionfm = api;

function setState(state: string, status = ''): void {
  document.body.dataset.state = state;
  $('status').textContent = status;
}

function showError(message: string): void {
  $('error').textContent = message;
  setState('error');
  updateFuseButton();
}

function clearError(): void {
  $('error').textContent = '';
}

function task(): string {
  return (document.querySelector('input[name=task]:checked') as HTMLInputElement).value;
}

function draw(canvas: HTMLCanvasElement, img: Image): void {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d')!.putImageData(new ImageData(toRgba8(img), img.width, img.height), 0, 0);
  canvas.hidden = false;
}

function updateFuseButton(): void {
  ($('fuse') as HTMLButtonElement).disabled = !runtime || !sources.a || !sources.b || document.body.dataset.state === 'busy';
}

async function setSource(side: 'a' | 'b', blob: Blob, name: string): Promise<void> {
  clearError();
  try {
    sources[side] = await decodeImageInBrowser(blob, name);
    draw($(`preview-${side}`), sources[side]!);
  } catch (e) {
    sources[side] = null;
    $(`preview-${side}`).hidden = true;
    showError(`Source ${side.toUpperCase()}: ${(e as Error).message}`);
  }
  updateFuseButton();
}

async function fetchBlob(url: string): Promise<Blob> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: the server answered ${r.status} ${r.statusText}`);
  return r.blob();
}

async function loadSample(i: number): Promise<void> {
  const s = SAMPLES[i]!;
  (document.querySelector(`input[name=task][value=${s.task}]`) as HTMLInputElement).checked = true;
  try {
    const [a, b] = await Promise.all([fetchBlob(s.a), fetchBlob(s.b)]);
    await setSource('a', a, s.a);
    await setSource('b', b, s.b);
    if (document.body.dataset.state !== 'error') setState('ready', `sample ${s.label} loaded`);
  } catch (e) {
    showError(`Could not load the sample pair: ${(e as Error).message}`);
  }
}

async function loadModel(): Promise<LoadedFlowModel> {
  if (model) return model;
  const r = await fetch(CHECKPOINT);
  if (!r.ok) throw new Error(`${CHECKPOINT}: the server answered ${r.status} ${r.statusText}`);
  model = decodeFlowModel(new Uint8Array(await r.arrayBuffer()), CHECKPOINT);
  return model;
}

async function fuse(): Promise<void> {
  const { a, b } = sources;
  if (!runtime || !a || !b) return;
  clearError();
  if (a.width !== b.width || a.height !== b.height) {
    showError(`The two images have different sizes: source A (${a.source}) is ${a.width}x${a.height}, source B (${b.source}) is ${b.width}x${b.height}. Fusion needs two registered images of the same size.`);
    return;
  }
  setState('busy', 'loading the model…');
  updateFuseButton();
  try {
    const m = await loadModel();
    if (!m.meta.tasks.includes(task())) throw new Error(`The model ${CHECKPOINT} was trained for ${m.meta.tasks.join(', ')}, not '${task()}'.`);
    const steps = Number(($('steps') as HTMLSelectElement).value);
    setState('busy', `fusing ${a.width}x${a.height} in ${steps} step${steps > 1 ? 's' : ''}…`);
    const t0 = performance.now();
    const fused = await fuseImages(m.net, a, b, { steps, coupling: m.meta.coupling, task: task() });
    const ms = performance.now() - t0;
    const canvas = $<HTMLCanvasElement>('fused');
    draw(canvas, fused);
    api.result = { width: fused.width, height: fused.height, rgba: toRgba8(fused), ms };
    $('timing').textContent = `Fused ${fused.width}x${fused.height} in ${ms.toFixed(0)} ms (${steps} network evaluation${steps > 1 ? 's' : ''}) on ${runtime.adapter.name}.`;
    $('result').hidden = false;
    const blob = await new Promise<Blob | null>((res) => canvas.toBlob(res, 'image/png'));
    if (blob) {
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      downloadUrl = URL.createObjectURL(blob);
      ($('download') as HTMLAnchorElement).href = downloadUrl;
    }
    setState('done', '');
  } catch (e) {
    showError(`Fusion failed: ${(e as Error).message}`);
  }
  updateFuseButton();
}

function wireDrop(side: 'a' | 'b'): void {
  const zone = $(`drop-${side}`);
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void setSource(side, f, f.name);
  });
  $<HTMLInputElement>(`file-${side}`).addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void setSource(side, f, f.name);
  });
}

async function start(): Promise<void> {
  const select = $<HTMLSelectElement>('sample');
  SAMPLES.forEach((s, i) => select.add(new Option(`${s.task.toUpperCase()}: ${s.label}`, String(i))));
  $('load-sample').addEventListener('click', () => void loadSample(Number(select.value)));
  wireDrop('a');
  wireDrop('b');
  $('fuse').addEventListener('click', () => void fuse());
  if (!('gpu' in navigator) || !navigator.gpu) {
    $('adapter').textContent = 'No WebGPU.';
    showError('This browser does not offer WebGPU, which FusionFM needs to run here. Use a recent Chrome or Edge (113 or newer), ' +
      'Safari 26, or Firefox with WebGPU enabled; on Linux, Chromium needs --enable-unsafe-webgpu.');
    setState('no-webgpu');
    return;
  }
  try {
    runtime = await createRuntime(navigator.gpu);
    useRuntime(runtime);
    api.adapter = runtime.adapter.name;
    $('adapter').textContent = `WebGPU adapter: ${runtime.adapter.name}.`;
    setState('ready');
  } catch (e) {
    $('adapter').textContent = 'No WebGPU adapter.';
    showError('This browser has WebGPU but gave this page no GPU adapter (WebGPU disabled, or the GPU blocklisted). ' +
      `On Linux, Chromium needs --enable-unsafe-webgpu. (${(e as Error).message.split('\n')[0]})`);
    setState('no-webgpu');
  }
  updateFuseButton();
}

void start();
