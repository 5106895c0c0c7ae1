/**
 * End to end: write a tiny LLaMA-MoE demo model with the libraries, build the page with Vite,
 * serve both from 127.0.0.1, and drive the page in headless Chromium: load the model, generate,
 * check the routing heatmap has a routed cell for every layer × expert of every generated token,
 * then do it again on the gpujs backend and check the page names the gpu.js mode that ran.
 */
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '@llama-moe/llama-model/node';
import { makeDemoModel, type DemoModelInfo } from '../scripts/demo-model.js';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = join(APP, 'test-artifacts');
const CHROMIUM = '/usr/bin/chromium';
const TOKENS = 8;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

/** A static server: `/demo-model/*` from the model folder, everything else from the build. */
function serve(siteDir: string, modelDir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const [rootDir, rel] = path.startsWith('/demo-model/') ? [modelDir, path.slice('/demo-model/'.length)] : [siteDir, path === '/' ? 'index.html' : path.slice(1)];
    const file = normalize(join(rootDir, rel));
    if (!file.startsWith(rootDir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok(server));
  });
}

interface RowCheck {
  position: number;
  routedLayers: number;
  cells: number;
  routedCells: number;
  /** Selected experts per layer. */
  selectedPerLayer: number[];
  /** Σ routing probabilities per layer. */
  probSumPerLayer: number[];
}

async function generatedRows(page: Page, layers: number): Promise<RowCheck[]> {
  return page.$$eval('#heatmap tr[data-kind="generated"]', (trs, L) => trs.map((tr) => {
    const cells = [...tr.querySelectorAll<HTMLElement>('td.cell')];
    const selectedPerLayer = new Array<number>(L as number).fill(0);
    const probSumPerLayer = new Array<number>(L as number).fill(0);
    for (const c of cells) {
      const l = Number(c.dataset.layer);
      if (c.dataset.selected === 'true') selectedPerLayer[l]!++;
      probSumPerLayer[l]! += Number(c.dataset.p || 'NaN');
    }
    return {
      position: Number((tr as HTMLElement).dataset.position),
      routedLayers: Number((tr as HTMLElement).dataset.routedLayers),
      cells: cells.length,
      routedCells: cells.filter((c) => c.dataset.routed === 'true').length,
      selectedPerLayer,
      probSumPerLayer,
    };
  }), layers);
}

async function generate(page: Page, tokens: number): Promise<void> {
  await page.fill('#max-tokens', String(tokens));
  await page.click('#generate');
  await page.waitForSelector('#gen-status[data-state="done"], #gen-status[data-state="error"]', { timeout: 30_000 });
  const state = await page.getAttribute('#gen-status', 'data-state');
  if (state !== 'done') throw new Error(`generation failed on the page: ${await page.textContent('#gen-status')}`);
}

function checkRouting(rows: RowCheck[], demo: DemoModelInfo, promptLength: number): void {
  expect(rows).toHaveLength(TOKENS);
  rows.forEach((r, i) => {
    expect(r.position).toBe(promptLength + i);
    expect(r.routedLayers).toBe(demo.layers);
    expect(r.cells).toBe(demo.layers * demo.experts);
    expect(r.routedCells).toBe(demo.layers * demo.experts);
    expect(r.selectedPerLayer).toEqual(new Array(demo.layers).fill(demo.topK));
    // Each layer's cells hold a probability distribution over the experts.
    for (const s of r.probSumPerLayer) expect(s).toBeCloseTo(1, 2);
  });
}

describe('playground in headless Chromium', () => {
  let work: string;
  let demo: DemoModelInfo;
  let server: Server;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the playground e2e test drives Debian's Chromium; install it with \`sudo apt-get install chromium\``);
    }
    work = mkdtempSync(join(tmpdir(), 'llama-moe-playground-'));
    demo = makeDemoModel(join(work, 'demo-model'), { experts: 4, topK: 2 });
    await build({
      root: APP,
      configFile: join(APP, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: join(work, 'site'), emptyOutDir: true },
    });
    server = await serve(join(work, 'site'), join(work, 'demo-model'));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('loads the demo model, streams tokens and shows per-token routing for every layer, on cpu and gpujs', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // The page probes optional files (tokenizer_config.json, the shard index, ...); their 404s are expected.
      const optional = /\/demo-model\/(tokenizer_config|special_tokens_map|generation_config|model\.safetensors\.index)\.json$/.test(m.location().url);
      if (m.type() === 'error' && !(optional && /404/.test(m.text()))) errors.push(`console.error: ${m.text()} (${m.location().url})`);
    });
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));

    await page.goto(`${base}/index.html`);
    await page.click('#load-demo');
    await page.waitForSelector('#model-status[data-state="ready"], #model-status[data-state="error"]', { timeout: 20_000 });
    expect(await page.getAttribute('#model-status', 'data-state'), await page.textContent('#model-status') ?? '').toBe('ready');
    expect(await page.textContent('#model-info')).toContain('llama_moe');

    // Greedy, and keep going past an end-of-sequence token so exactly TOKENS tokens come out.
    await page.fill('#temperature', '0');
    await page.uncheck('#stop-at-eos');
    await generate(page, TOKENS);
    expect(await page.getAttribute('#gen-status', 'data-tokens')).toBe(String(TOKENS));
    expect(await page.locator('#output span.gen').count()).toBe(TOKENS);

    // The page's text is the decode of prompt + generated ids as one sequence (a stream that began
    // at the first generated token would drop that token's leading space).
    const tok = loadTokenizer(demo.dir);
    const promptText = await page.inputValue('#prompt');
    const genIds = await page.$$eval('#output span.gen', (spans) => spans.map((s) => Number((s as HTMLElement).dataset.id)));
    expect(await page.textContent('#output')).toBe(tok.decode([...tok.encode(promptText), ...genIds], { skipSpecialTokens: true }));

    const promptLength = await page.locator('#heatmap tr[data-kind="prompt"]').count();
    expect(promptLength).toBeGreaterThan(1);
    // Prompt rows are routed too (from the prefill step).
    const promptRouted = await page.$$eval('#heatmap tr[data-kind="prompt"]', (trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.routedLayers)));
    expect(promptRouted).toEqual(new Array(promptLength).fill(demo.layers));
    const cpuRows = await generatedRows(page, demo.layers);
    checkRouting(cpuRows, demo, promptLength);
    // The gate was scaled for the demo so tokens do not all route alike: more than one expert set appears.
    const sets = new Set(await page.$$eval('#heatmap tr.token-row', (trs) => trs.map((tr) => [...tr.querySelectorAll<HTMLElement>('td.cell.selected')].map((c) => `${c.dataset.layer}:${c.dataset.expert}`).join(','))));
    expect(sets.size).toBeGreaterThan(1);

    // Load bars: one block per layer, counts summing to (prompt + generated tokens) · k per layer.
    const loads = await page.$$eval('#load .load-layer', (blocks) => blocks.map((b) => [...b.querySelectorAll<HTMLElement>('.load-row')].reduce((a, r) => a + Number(r.dataset.count), 0)));
    expect(loads).toEqual(new Array(demo.layers).fill((promptLength + TOKENS) * demo.topK));
    expect(await page.textContent('#run-stats')).toMatch(/matmul: cpu \d+/);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'playground.png'), fullPage: true });

    // gpujs: gpu.js picks its mode itself (headless Chromium with --disable-gpu still offers WebGL2
    // through SwiftShader); the page must name the mode that ran and generate the same way.
    await page.selectOption('#backend', 'gpujs');
    await page.waitForSelector('#backend-status[data-state="ready"], #backend-status[data-state="error"]', { timeout: 20_000 });
    const backendText = (await page.textContent('#backend-status')) ?? '';
    expect(await page.getAttribute('#backend-status', 'data-state'), backendText).toBe('ready');
    const mode = (await page.getAttribute('#backend-status', 'data-mode')) ?? '';
    expect(['webgl2', 'webgl', 'webasm', 'cpu']).toContain(mode);
    expect(backendText).toContain(`mode ${mode}`);
    await generate(page, TOKENS);
    checkRouting(await generatedRows(page, demo.layers), demo, promptLength);
    const stats = (await page.textContent('#run-stats')) ?? '';
    expect(stats).toMatch(/matmul: (cpu \d+, )?gpujs \d+/);
    expect(stats).toContain(`gpu.js kernels ran in: ${mode}`);
    await page.screenshot({ path: join(ARTIFACTS, 'playground-gpujs.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
