/**
 * The demo page (web/) in Debian's headless Chromium, driven by playwright-core (no browser
 * download): it fuses a bundled sample pair with the default checkpoint, and the fused pixels
 * match the Node result for the same pair and checkpoint within 1/255; without WebGPU it says
 * so in plain words. A screenshot of each page goes to test-artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseImages } from '../src/fusion/flow/fuse.js';
import { toRgba8 } from '../src/fusion/image.js';
import { loadFlowModel } from '../src/io/flow-checkpoint.js';
import { readImage } from '../src/io/image.js';
import { gpu } from './helpers.js';

const CHROMIUM = process.env.FUSIONFM_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
// the smallest bundled pair (256x256) keeps a software GPU's run short
const SAMPLE = { index: 1, a: 'samples/mif-MRI-CT/13_a.png', b: 'samples/mif-MRI-CT/13_b.png' };

declare global {
  interface Window { fusionfm: { result: { width: number; height: number; rgba: Uint8ClampedArray; ms: number } | null; adapter: string | null } }
}

describe.skipIf(!existsSync(CHROMIUM))(`web demo in headless Chromium (skipped where ${CHROMIUM} is missing: apt-get install chromium)`, () => {
  let server: ViteDevServer;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const { createServer } = await import('vite');
    server = await createServer({ configFile: 'web/vite.config.ts', server: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
    await server.listen();
    base = server.resolvedUrls!.local[0]!;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--enable-unsafe-webgpu', '--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('fuses a bundled sample pair; the pixels match the Node result within 1/255', async () => {
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(base);
    await page.waitForFunction(() => ['ready', 'error', 'no-webgpu'].includes(document.body.dataset.state!), null, { timeout: 60_000 });
    expect(await page.textContent('#error'), logs.join('\n')).toBe('');
    await page.selectOption('#sample', String(SAMPLE.index));
    await page.click('#load-sample');
    await page.waitForFunction(() => !(document.getElementById('fuse') as HTMLButtonElement).disabled || document.body.dataset.state === 'error', null, { timeout: 30_000 });
    await page.click('#fuse');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state!), null, { timeout: 400_000 });
    await page.screenshot({ path: `${ARTIFACTS}/web-demo-fused.png`, fullPage: true });
    expect(await page.textContent('#error'), logs.join('\n')).toBe('');
    const web = await page.evaluate(() => ({ ...window.fusionfm.result!, rgba: Array.from(window.fusionfm.result!.rgba), adapter: window.fusionfm.adapter }));
    expect(await page.textContent('#timing')).toContain(web.adapter!);
    expect(await page.getAttribute('#download', 'href')).toMatch(/^blob:/);

    await gpu();
    const { net, meta } = loadFlowModel('checkpoints/default.safetensors');
    try {
      const fused = await fuseImages(net, await readImage(SAMPLE.a), await readImage(SAMPLE.b), { steps: 1, coupling: meta.coupling, task: 'mif' });
      const want = toRgba8(fused);
      expect([web.width, web.height]).toEqual([fused.width, fused.height]);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - web.rgba[i]!));
      expect(worst).toBeLessThanOrEqual(1);
    } finally {
      net.dispose();
    }
    await page.close();
  }, 600_000);

  it('says plainly that WebGPU is missing: navigator.gpu removed, or no adapter (Chromium on Linux without the flag)', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => { delete (Navigator.prototype as { gpu?: unknown }).gpu; });
    await page.goto(base);
    await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 30_000 });
    await page.screenshot({ path: `${ARTIFACTS}/web-demo-no-webgpu.png` });
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('no-webgpu');
    expect(await page.textContent('#error')).toMatch(/does not offer WebGPU/);
    expect(await page.isDisabled('#fuse')).toBe(true);
    await page.close();
    // and a real browser whose WebGPU gives no adapter: Chromium on Linux without the flag
    const { chromium } = await import('playwright-core');
    const plain = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const p2 = await plain.newPage();
      await p2.goto(base);
      await p2.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 30_000 });
      // where this Chromium does hand out an adapter without the flag, the page is simply ready
      const state = await p2.evaluate(() => document.body.dataset.state);
      expect(['no-webgpu', 'ready']).toContain(state);
      if (state === 'no-webgpu') {
        expect(await p2.textContent('#error')).toMatch(/gave this page no GPU adapter/);
        expect(await p2.isDisabled('#fuse')).toBe(true);
      }
    } finally {
      await plain.close();
    }
  }, 60_000);

  it('shows plain errors for images of different sizes and for a file that is not an image', async () => {
    const page = await browser.newPage();
    await page.goto(base);
    await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60_000 });
    await page.setInputFiles('#file-a', 'samples/mif-MRI-CT/13_a.png');
    await page.setInputFiles('#file-b', 'samples/ivf-VIFB/carWhite_b.jpg');
    await page.waitForFunction(() => !(document.getElementById('fuse') as HTMLButtonElement).disabled, null, { timeout: 30_000 });
    await page.click('#fuse');
    await page.waitForFunction(() => document.body.dataset.state === 'error', null, { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/different sizes: source A \(13_a\.png\) is 256x256, source B \(carWhite_b\.jpg\) is \d+x\d+/);
    await page.setInputFiles('#file-b', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image') });
    await page.waitForFunction(() => /notes\.png/.test(document.getElementById('error')!.textContent ?? ''), null, { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/Source B: notes\.png: the browser could not decode this file as an image/);
    expect(await page.isDisabled('#fuse')).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}/web-demo-errors.png` });
    await page.close();
  }, 90_000);
});
