import { defineConfig } from 'vitest/config';

// Shared by every package's vitest.config.ts. Tests import workspace packages through the
// `@llama-moe/source` export condition, so they run against sources without a prior build.
export default defineConfig({
  resolve: { conditions: ['@llama-moe/source'] },
  ssr: { resolve: { conditions: ['@llama-moe/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
