/**
 * Browser-safety test: bundles src/index.ts for the browser with esbuild (any Node builtin or
 * runtime dependency fails the build or the checks below), then runs the same routing scenario in
 * headless Chromium and in Node and compares the results.
 *
 * Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`); CI installs it.
 * Without it this test FAILS on purpose: a skipped browser test would hide a broken bundle.
 */
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Router from '../src/index.js';
import { runScenario, type ScenarioResult } from './browser-scenario.js';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = resolve(pkgRoot, 'src');
const CHROMIUM = '/usr/bin/chromium';

/** Builds an in-memory browser ESM bundle of `contents` (resolved from the package root). */
async function bundle(contents: string, minify = false) {
  const result = await build({
    stdin: { contents, resolveDir: pkgRoot, loader: 'ts', sourcefile: 'entry.ts' },
    // metafile input paths are relative to this, whatever directory the tests run from
    absWorkingDir: pkgRoot,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    minify,
    logLevel: 'silent',
  });
  return { text: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) };
}

describe('browser bundle', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `browser.test: ${CHROMIUM} is missing; install Debian's chromium (apt-get update && apt-get install -y chromium). CI installs it; this test fails rather than skips without it.`,
      );
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('bundles src/index.ts for the browser from the package sources alone, with no Node globals', async () => {
    const { text, inputs } = await bundle(`export * from './src/index.ts';`);
    // Every bundled file is one of our sources: no runtime dependency, no polyfilled builtin.
    for (const input of inputs) {
      if (input === 'entry.ts' || input.startsWith('<stdin>')) continue;
      const rel = relative(srcDir, resolve(pkgRoot, input));
      expect(rel.startsWith('..') || rel.includes('node_modules'), `bundled a file outside src/: ${input}`).toBe(false);
      expect(input.endsWith('.test.ts'), `bundled a test file: ${input}`).toBe(false);
    }
    for (const banned of [/\brequire\(/, /\bprocess\./, /\bBuffer\./, /from\s+["']node:/, /__dirname/]) {
      expect(banned.test(text), `bundle mentions ${banned}`).toBe(false);
    }
  });

  it('tree-shakes: importing createRng alone leaves the gates out', async () => {
    // Strings that survive minification (error messages) mark whether a module was kept.
    const marker = /RoutingStatsAccumulator\.add|noisyTopKGate|expertChoiceGate|buildDispatch/;
    const full = await bundle(`export * from './src/index.ts';`, true);
    expect(full.text).toMatch(marker);
    const { text } = await bundle(`import { createRng } from './src/index.ts'; globalThis.r = createRng(1).uniform();`, true);
    expect(text).not.toMatch(marker);
    expect(text.length).toBeLessThan(full.text.length / 4);
  });

  it('runs the routing scenario in headless Chromium with the same results as Node', async () => {
    const { text } = await bundle(
      `import * as R from './src/index.ts';
       import { runScenario } from './test/browser-scenario.ts';
       globalThis.__routerScenario = (seed) => runScenario(R, seed);`,
    );
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
    await page.addScriptTag({ content: text, type: 'module' });
    await page.waitForFunction(() => typeof (globalThis as { __routerScenario?: unknown }).__routerScenario === 'function');
    for (const seed of [1, 2024]) {
      const inBrowser = (await page.evaluate(
        (s) => (globalThis as unknown as { __routerScenario: (seed: number) => unknown }).__routerScenario(s),
        seed,
      )) as ScenarioResult;
      const inNode = runScenario(Router, seed);
      // Integer routing decisions and the uniform stream must agree exactly.
      for (const key of ['uniforms', 'noisyIndices', 'switchIndices', 'switchDropped', 'mixtralIndices', 'expertChoiceTokens'] as const) {
        expect(inBrowser[key], key).toEqual(inNode[key]);
      }
      // Floats through Math.exp/log/tanh may differ in the last ulp between JS engines.
      for (const key of ['noisyScores', 'load', 'dLogits', 'mixtralWeights', 'moeOut'] as const) {
        const a = inBrowser[key];
        const b = inNode[key];
        expect(a.length, key).toBe(b.length);
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `${key}[${i}]`).toBeLessThan(1e-6 * Math.max(1, Math.abs(b[i])));
      }
      for (const key of ['balanceLoss', 'switchLoss', 'auxLoss', 'zLoss'] as const) {
        expect(inBrowser[key], key).toBeCloseTo(inNode[key], 9);
      }
      expect(JSON.stringify(inBrowser.stats).length).toBeGreaterThan(10);
      expect((inBrowser.stats as { layers: unknown[] }).layers.length).toBe(2);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
