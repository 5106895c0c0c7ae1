/**
 * Entry points: the root is the tensor API, ops, registry and backend selection, browser-safe;
 * backends (wasm, gpujs, native, cpu oracle kernels) and benchmarks sit under their own subpaths.
 */
import { describe, expect, it } from 'vitest';
import { browserBundle, entrySource } from '@llama-moe/test-support/browser-bundle';
import * as root from '@llama-moe/tensor-core';
import * as wasm from '@llama-moe/tensor-core/wasm';
import * as gpujs from '@llama-moe/tensor-core/gpujs';
import * as native from '@llama-moe/tensor-core/native';
import * as cpu from '@llama-moe/tensor-core/cpu';
import * as bench from '@llama-moe/tensor-core/bench';

describe('@llama-moe/tensor-core entry points', () => {
  it('the root exports no backend classes, oracle kernels or benchmarks', () => {
    const names = Object.keys(root);
    expect(names.filter((n) => /^Wasm|Cpu$|^bench|^init(Wasm|Native|Gpujs)Backend$|^OrtGemm$/.test(n))).toEqual([]);
    expect(typeof root.setBackend).toBe('function');
    expect(typeof root.useDefaultBackend).toBe('function');
    expect(typeof root.runKernel).toBe('function');
  });

  it('each backend and the benchmarks have their own entry point', () => {
    expect(typeof wasm.initWasmBackend).toBe('function');
    expect(typeof wasm.WasmGemm).toBe('function');
    expect(typeof gpujs.initGpujsBackend).toBe('function');
    expect(typeof native.initNativeBackend).toBe('function');
    expect(typeof cpu.matmulCpu).toBe('function');
    expect(typeof bench.benchGemm).toBe('function');
    expect(typeof bench.benchGpujs).toBe('function');
  });

  it.each([['.'], ['./wasm'], ['./gpujs'], ['./cpu']])('%s reaches no Node built-in in a browser bundle', async (sub) => {
    const b = await browserBundle(entrySource('tensor-core', sub));
    expect(b.builtins).toEqual([]);
  });
});
