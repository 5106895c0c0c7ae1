import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { train } from '../trainer.js';
import { corpusSources, loadTinyMoe, tempDir, tinyMoeModel, tokenizer, removeTempDirs } from '../../test/support/fixtures.js';

afterAll(removeTempDirs);
import { renderReport } from './html.js';
import { colorRamp, niceTicks } from './svg.js';

const CHROMIUM = '/usr/bin/chromium';

/** No URL the browser could fetch: no scheme-qualified or protocol-relative references, no CSS url()/@import. */
function externalRefs(html: string): string[] {
  const out: string[] = [];
  for (const re of [/https?:\/\//gi, /(?:src|href|action|xlink:href)\s*=\s*["']?\/\//gi, /url\(/gi, /@import/gi, /<link\b/gi, /<img\b/gi, /<iframe\b/gi]) {
    for (const m of html.matchAll(re)) out.push(m[0]);
  }
  return out;
}

describe('report.html', () => {
  let html = '';
  let path = '';
  beforeAll(async () => {
    const out = tempDir('report');
    await train(
      { max_steps: 8, batch_size: 2, seq_len: 16, lr: 5e-3, warmup_steps: 1, eval_every: 4, eval_blocks: 1, stats_every: 2, save_every: 0, dynamic: { rule: 'llama_moe' }, quiet: true },
      { model: tinyMoeModel(1), sources: corpusSources({ docs: 20 }), tokenizer, outDir: out, loadModel: (d) => loadTinyMoe(d), progress: null },
    );
    path = join(out, 'report.html');
    html = readFileSync(path, 'utf8');
  });

  it('is one self-contained page with every plot', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(externalRefs(html)).toEqual([]);
    for (const cap of ['Training loss', 'Balance loss', 'Learning rate', 'Validation loss per domain', 'Validation perplexity per domain', 'Expert load by layer', 'Expert load by domain', 'Domain weights over time']) {
      expect(html).toContain(`<figcaption>${cap}`);
    }
    // loss, balance, lr, grad norm, val loss, val ppl, 2 heatmaps, domain weights.
    expect((html.match(/<svg /g) ?? []).length).toBe(9);
    // Heatmaps: 2 layers × 4 experts, 3 domains × 4 experts.
    expect((html.match(/class="cell"/g) ?? []).length).toBe(2 * 4 + 3 * 4);
    const data = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!);
    expect(data.history.filter((r: { kind: string }) => r.kind === 'train')).toHaveLength(8);
    expect(Object.keys(data.routing.domains).sort()).toEqual(['arxiv', 'github', 'wikipedia']);
    // Per-token attribution: every routed slot (B·T tokens × k = 2·16·2 per micro-batch and layer, 4 stats steps) lands in some domain.
    const total = Object.values(data.routing.domains as Record<string, number[][]>).reduce((a, m) => a + m[0]!.reduce((x, y) => x + y, 0), 0);
    expect(total).toBe(4 * 2 * 16 * 2);
  });

  it('escapes names and renders an empty history', () => {
    const h = renderReport({ config: { note: '<b>"x"</b>' }, history: [], routing: null, title: 'a < b' });
    expect(h).toContain('<title>a &lt; b</title>');
    expect(h).not.toContain('<b>"x"</b>');
    expect(h).toContain('no data yet');
    expect(externalRefs(h)).toEqual([]);
    const evil = renderReport({ config: {}, routing: { layers: [[1, 2]], domains: { '</script><script>alert(1)</script>': [[1, 2]] } }, history: [] });
    expect(evil).not.toContain('<script>alert(1)');
  });

  it('property: ticks cover the range in round steps; colour ramp stays in gamut', () => {
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (lo, span) => {
      const t = niceTicks(lo, lo + span);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(12);
      // Ticks may leave the range only by float rounding (a few ulps of the endpoints).
      const tol = span * 1e-6 + Math.abs(lo) * 1e-12;
      expect(t[0]!).toBeGreaterThanOrEqual(lo - tol);
      expect(t[t.length - 1]!).toBeLessThanOrEqual(lo + span + tol);
    }), { numRuns: 100 });
    expect(colorRamp(0)).toBe('rgb(68,1,84)');
    expect(colorRamp(1)).toBe('rgb(253,231,37)');
    expect(colorRamp(NaN)).toBe('rgb(68,1,84)');
  });

  it.runIf(existsSync(CHROMIUM))('opens offline in headless Chromium: no network requests, no console errors, legend toggles work', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    try {
      const page = await browser.newPage();
      const url = pathToFileURL(path).href;
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => { if (r.url() !== url) requests.push(r.url()); });
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(url, { waitUntil: 'load' });
      const svgs = await page.evaluate(() => document.querySelectorAll('svg').length);
      expect(svgs).toBe(9);
      const box = await page.evaluate(() => (document.querySelector('figure.chart svg') as SVGSVGElement).getBoundingClientRect().width);
      expect(box).toBeGreaterThan(100);
      await page.click('.legend-item[data-series="1"]');
      const hidden = await page.evaluate(() => {
        const b = document.querySelector('.legend-item[data-series="1"]')!;
        const fig = document.getElementById(b.getAttribute('data-target')!)!;
        return (fig.querySelector('g.series[data-series="1"]') as SVGGElement).style.display;
      });
      expect(hidden).toBe('none');
      expect(requests).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe('report heatmaps and configuration table', () => {
  const base = (routingDomains: Record<string, number[][]>) => renderReport({
    config: { dynamic: { rule: 'sheared_llama', eta: 1, c: 0.0001, update_every: 10, reference_loss: { cc: 2.1, c4: 2.3, github: 0.9, book: 1.9, arxiv: 1.4, wikipedia: 1.6, stackexchange: 1.5 } } },
    history: [{ kind: 'train', step: 1, loss: 5, ce_loss: 5, balance_loss: 0, lr: 0, grad_norm: 1, tokens: 1, tokens_seen: 1, tokens_per_sec: 1, gflops_per_sec: 1, elapsed_s: 1, stage: -1, skipped: false, domain_weights: { a: 0.5, b: 0.5 }, domain_counts: { a: 1, b: 1 } }] as never,
    routing: { layers: [[25, 24, 26, 25]], domains: routingDomains },
  });

  it('a domain never drawn on a statistics step keeps its row, marked as not sampled and grey', () => {
    const html = base({ a: [[25, 24, 26, 25]] });
    expect(html).toContain('b (not sampled on stats steps)');
    expect(html).toContain('fill="#e6e6e6"');
    expect(html).toContain('no data');
  });

  it('load shares are coloured on a scale from 0, so a near-uniform load is not drawn as imbalanced', () => {
    const html = base({ a: [[25, 24, 26, 25]] });
    expect(html).toContain('colour scale from 0');
    // The colour bar's bottom label is 0, and the cells of a near-uniform layer are all in the top part of the ramp.
    const layerFig = html.slice(html.indexOf('Expert load by layer'), html.indexOf('Expert load by domain'));
    expect(layerFig).toMatch(/class="tick">0<\/text>/);
    const fills = [...layerFig.matchAll(/fill="(rgb\([^)]*\))" class="cell"/g)].map((m) => m[1]);
    expect(fills).toHaveLength(4);
    expect(new Set(fills).has(colorRamp(0))).toBe(false);
  });

  it('long configuration values wrap inside the page', () => {
    const html = base({ a: [[1, 1, 1, 1]] });
    expect(html).toContain('<table class="config">');
    expect(html).toMatch(/table\.config td\{overflow-wrap:anywhere/);
  });
});
