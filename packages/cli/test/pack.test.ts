/**
 * The published artefact works: `pnpm pack` every workspace package (workspace:^ ranges become
 * real versions), install the CLI tarball in an empty folder with npm (the workspace packages
 * from their tarballs through `overrides`, third-party ones from the registry, no install
 * scripts), then run `npx llama-moe --help` and `--version` from there.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { tempDir } from './helpers.js';

const root = path.resolve(__dirname, '../../..');
const work = tempDir('llama-moe-pack-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const PKGS = ['tensor-core', 'router', 'llama-model', 'expert-partition', 'data-sampler', 'trainer', 'cli'];

describe('npm pack of the CLI', () => {
  test('installs in an empty folder and `npx llama-moe --help` runs from the tarball', () => {
    const tarballs = path.join(work, 'tarballs');
    fs.mkdirSync(tarballs);
    const byName: Record<string, string> = {};
    for (const p of PKGS) {
      const dir = path.join(root, 'packages', p);
      if (!fs.existsSync(path.join(dir, 'dist', 'index.js'))) throw new Error(`${p} is not built: run \`pnpm nx run-many -t build\` first`);
      execFileSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir, stdio: 'pipe' });
      const name = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name as string;
      const file = fs.readdirSync(tarballs).find((f) => f.startsWith(name.replace('@', '').replace('/', '-') + '-'))!;
      byName[name] = `file:${path.join(tarballs, file)}`;
    }
    // Tarballs must not leak tests or workspace protocol ranges.
    const cliTgz = byName['llama-moe']!.slice(5);
    const listing = execFileSync('tar', ['-tzf', cliTgz]).toString();
    expect(listing).toMatch(/package\/bin\/llama-moe\.mjs/);
    expect(listing).toMatch(/package\/dist\/index\.js/);
    expect(listing).not.toMatch(/\.test\.ts/);
    const manifest = execFileSync('tar', ['-xzOf', cliTgz, 'package/package.json']).toString();
    expect(manifest).not.toMatch(/workspace:/);

    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    const overrides = Object.fromEntries(Object.entries(byName).filter(([n]) => n !== 'llama-moe'));
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { 'llama-moe': byName['llama-moe'] }, overrides }, null, 2));
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: 'pipe', timeout: 400_000 });
    const help = execFileSync('npx', ['--no-install', 'llama-moe', '--help'], { cwd: app, stdio: 'pipe' }).toString();
    expect(help).toMatch(/split/);
    expect(help).toMatch(/merge-experts/);
    const version = execFileSync('npx', ['--no-install', 'llama-moe', '--version'], { cwd: app, stdio: 'pipe' }).toString();
    expect(version.trim()).toMatch(/0\.1\.0/);
  }, 500_000);
});
