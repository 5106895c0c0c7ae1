/**
 * The playground page: load a model (demo folder over HTTP or picked files), pick a backend,
 * generate with streaming text, and fill the routing heatmap and load bars step by step.
 */
import './style.css';
import { generateSteps, type GenerateOptions } from '@llama-moe/llama-model';
import { gpujsRunDetail, kernelUsage, resetKernelCounts, selectBackend, type BackendChoice } from './backend.js';
import { LoadBars, RoutingHeatmap } from './heatmap.js';
import { fetchModelFolder, filesFromList, loadModelFromFiles, type LoadedModel, type ModelFiles } from './model-loader.js';
import { RoutingTrace } from './routing-trace.js';
import { decodeStreamAfter } from './decode-after-prompt.js';

function $<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`playground: element #${id} is missing from index.html`);
  return e as T;
}

const ui = {
  modelUrl: $<HTMLInputElement>('model-url'),
  loadDemo: $<HTMLButtonElement>('load-demo'),
  modelFiles: $<HTMLInputElement>('model-files'),
  modelStatus: $('model-status'),
  modelInfo: $('model-info'),
  backend: $<HTMLSelectElement>('backend'),
  backendStatus: $('backend-status'),
  prompt: $<HTMLTextAreaElement>('prompt'),
  maxTokens: $<HTMLInputElement>('max-tokens'),
  temperature: $<HTMLInputElement>('temperature'),
  topK: $<HTMLInputElement>('top-k'),
  seed: $<HTMLInputElement>('seed'),
  stopAtEos: $<HTMLInputElement>('stop-at-eos'),
  generate: $<HTMLButtonElement>('generate'),
  stop: $<HTMLButtonElement>('stop'),
  genStatus: $('gen-status'),
  output: $('output'),
  runStats: $('run-stats'),
  heatmap: $('heatmap'),
  load: $('load'),
};

type StatusState = 'empty' | 'idle' | 'loading' | 'running' | 'ready' | 'done' | 'error';
function setStatus(node: HTMLElement, state: StatusState, text: string): void {
  node.dataset.state = state;
  node.textContent = text;
}

let loaded: LoadedModel | null = null;
let busy = false;
let cancelRequested = false;

function updateButtons(): void {
  ui.generate.disabled = busy || !loaded;
  ui.stop.disabled = !busy;
  ui.loadDemo.disabled = busy;
  ui.modelFiles.disabled = busy;
  ui.backend.disabled = busy;
}

const fmtBytes = (n: number) => (n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
const fmtCount = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} K` : String(n));

function showModelInfo(m: LoadedModel): void {
  const c = m.config;
  const rows: [string, string][] = [
    ['source', m.name],
    ['model_type', c.model_type],
    ['layers', String(c.num_hidden_layers)],
    ['hidden / ffn', `${c.hidden_size} / ${c.intermediate_size}`],
    ['heads (kv)', `${c.num_attention_heads} (${c.num_key_value_heads})`],
    ['vocab', String(c.vocab_size)],
    ['parameters', fmtCount(m.numParameters)],
    ['weights', fmtBytes(m.weightBytes)],
  ];
  if (m.moe) rows.splice(3, 0, ['experts', `${m.moe.numExperts}, top-${m.moe.topK}`], ['gate', `${m.moe.gateType} (${m.moe.format})`]);
  ui.modelInfo.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
}

async function useFiles(name: string, getFiles: () => Promise<ModelFiles>): Promise<void> {
  busy = true;
  updateButtons();
  setStatus(ui.modelStatus, 'loading', `Loading ${name}…`);
  try {
    const files = await getFiles();
    setStatus(ui.modelStatus, 'loading', `Building the model (${files.size} files)…`);
    await nextFrame();
    const t0 = performance.now();
    loaded = loadModelFromFiles(name, files);
    const ms = performance.now() - t0;
    showModelInfo(loaded);
    const kind = loaded.moe ? `MoE, ${loaded.moe.numExperts} experts, top-${loaded.moe.topK}` : 'dense (no routing to show)';
    setStatus(ui.modelStatus, 'ready', `Loaded ${loaded.config.model_type} (${kind}) in ${ms.toFixed(0)} ms.`);
    setStatus(ui.genStatus, 'idle', 'Ready to generate.');
  } catch (e) {
    loaded = null;
    ui.modelInfo.replaceChildren();
    setStatus(ui.modelStatus, 'error', (e as Error).message);
    console.warn('playground: model load failed', e);
  } finally {
    busy = false;
    updateButtons();
  }
}

/** Let the browser paint and handle input between tokens. */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function intOf(input: HTMLInputElement, min: number, max: number, fallback: number): number {
  const v = Math.floor(Number(input.value));
  return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback;
}

async function runGeneration(): Promise<void> {
  const m = loaded;
  if (!m || busy) return;
  busy = true;
  cancelRequested = false;
  updateButtons();
  const { model, tokenizer, config } = m;
  const heatmap = new RoutingHeatmap(ui.heatmap);
  const bars = new LoadBars(ui.load);
  try {
    const text = ui.prompt.value;
    let prompt = tokenizer.encode(text);
    if (prompt.length === 0) prompt = tokenizer.bosTokenId !== null ? [tokenizer.bosTokenId] : [0];
    const maxNew = intOf(ui.maxTokens, 1, 512, 16);
    if (prompt.length + maxNew > config.max_position_embeddings) {
      throw new RangeError(`prompt (${prompt.length} tokens) + max new tokens (${maxNew}) exceeds max_position_embeddings ${config.max_position_embeddings}; shorten the prompt or lower max new tokens`);
    }
    const temperature = Math.max(0, Number(ui.temperature.value) || 0);
    const stopTokens = ui.stopAtEos.checked ? (tokenizer.eosTokenIds.length ? [...tokenizer.eosTokenIds] : undefined) : [];

    const moe = m.moe;
    const trace = moe ? new RoutingTrace(config.num_hidden_layers, moe.numExperts, moe.topK) : null;
    for (const id of prompt) trace?.addToken(id, tokenizer.idToToken(id) ?? `#${id}`, 'prompt');
    if (trace) {
      heatmap.reset(trace);
      heatmap.update(trace.rows);
    } else {
      ui.heatmap.innerHTML = '<p class="placeholder">This is a dense model: there is no routing to show.</p>';
      ui.load.replaceChildren();
    }

    ui.output.replaceChildren();
    const promptSpan = document.createElement('span');
    promptSpan.className = 'prompt-text';
    promptSpan.textContent = text;
    ui.output.append(promptSpan);
    ui.runStats.textContent = '';
    resetKernelCounts();

    const opts: GenerateOptions = {
      // One token more than shown: its forward routes the last shown token (see routing-trace.ts).
      maxNewTokens: maxNew + 1,
      temperature,
      topK: intOf(ui.topK, 0, 1 << 20, 0),
      seed: intOf(ui.seed, 0, 2 ** 31 - 1, 0),
      stopTokens,
      onRecords: trace ? (records, step) => {
        const first = step === 0 ? 0 : prompt.length + step - 1;
        const rows = trace.ingest(records, first, moe!.taps.map((t) => t.last));
        heatmap.update(rows);
        bars.render(trace);
      } : undefined,
    };
    setStatus(ui.genStatus, 'running', 'Prefill…');
    await nextFrame();
    const stream = decodeStreamAfter(tokenizer, prompt);
    const ids: number[] = [];
    const it = generateSteps(model, prompt, opts);
    const t0 = performance.now();
    let prefillMs = 0;
    let reason = 'length';
    for (;;) {
      if (cancelRequested) { reason = 'stopped'; break; }
      const r = it.next();
      if (ids.length === 0) prefillMs = performance.now() - t0;
      if (r.done) { reason = r.value.finishReason; break; }
      if (ids.length === maxNew) break; // the extra token: its routing step is done, drop it
      const id = r.value;
      ids.push(id);
      const row = trace?.addToken(id, tokenizer.idToToken(id) ?? `#${id}`, 'generated');
      if (row) heatmap.update([row]);
      const span = document.createElement('span');
      span.className = 'gen';
      span.dataset.position = String(prompt.length + ids.length - 1);
      span.dataset.id = String(id);
      span.title = `token ${id} ${tokenizer.idToToken(id) ?? ''}`;
      span.textContent = stream.push(id);
      ui.output.append(span);
      setStatus(ui.genStatus, 'running', `Generating… ${ids.length}/${maxNew}`);
      await nextFrame();
    }
    const tail = stream.flush();
    if (tail) ui.output.append(tail);
    const totalMs = performance.now() - t0;
    const decodeMs = totalMs - prefillMs;
    const decodeSteps = Math.max(1, (trace?.steps ?? ids.length) - 1);
    const why = reason === 'stop' ? 'end-of-sequence token' : reason === 'stopped' ? 'stopped by you' : 'max new tokens';
    setStatus(ui.genStatus, 'done', `Generated ${ids.length} tokens (${why}).`);
    ui.genStatus.dataset.tokens = String(ids.length);
    const detail = gpujsRunDetail();
    ui.runStats.textContent = `prompt ${prompt.length} tokens · prefill ${prefillMs.toFixed(0)} ms · decode ${(decodeMs / decodeSteps).toFixed(1)} ms/token (${((decodeSteps * 1000) / Math.max(decodeMs, 1e-3)).toFixed(1)} tokens/s)`
      + ` · kernels: ${kernelUsage() || 'none'}${detail ? ` · gpu.js ${detail}` : ''}`;
  } catch (e) {
    setStatus(ui.genStatus, 'error', (e as Error).message);
    console.warn('playground: generation failed', e);
  } finally {
    busy = false;
    updateButtons();
  }
}

async function changeBackend(): Promise<void> {
  const choice = ui.backend.value as BackendChoice;
  busy = true;
  updateButtons();
  setStatus(ui.backendStatus, 'loading', choice === 'gpujs' ? 'Starting gpu.js…' : 'Switching to cpu…');
  const st = await selectBackend(choice);
  ui.backend.value = st.active;
  ui.backendStatus.dataset.mode = st.gpujsMode ?? 'cpu';
  if (st.error) setStatus(ui.backendStatus, 'error', `${st.error} — staying on cpu.`);
  else setStatus(ui.backendStatus, 'ready', st.active === 'gpujs' ? `${st.label} (what gpu.js actually selected)` : st.label);
  busy = false;
  updateButtons();
}

/** Hovering a token (in the text or the heatmap) highlights it in both. */
function linkHover(): void {
  const toggle = (pos: string | undefined, on: boolean) => {
    if (pos === undefined) return;
    ui.heatmap.querySelector(`tr[data-position="${pos}"]`)?.classList.toggle('hl', on);
    ui.output.querySelector(`span[data-position="${pos}"]`)?.classList.toggle('hl', on);
  };
  for (const host of [ui.heatmap, ui.output]) {
    host.addEventListener('mouseover', (ev) => toggle((ev.target as HTMLElement).closest<HTMLElement>('[data-position]')?.dataset.position, true));
    host.addEventListener('mouseout', (ev) => toggle((ev.target as HTMLElement).closest<HTMLElement>('[data-position]')?.dataset.position, false));
  }
}

ui.loadDemo.addEventListener('click', () => {
  const url = ui.modelUrl.value.trim() || 'demo-model/';
  void useFiles(url, () => fetchModelFolder(url, (file, n, total) => {
    setStatus(ui.modelStatus, 'loading', `Fetching ${file}: ${fmtBytes(n)}${total ? ` of ${fmtBytes(total)}` : ''}`);
  }));
});
ui.modelFiles.addEventListener('change', () => {
  const list = ui.modelFiles.files;
  if (!list || list.length === 0) return;
  void useFiles('local files', () => filesFromList(Array.from(list)));
});
ui.backend.addEventListener('change', () => void changeBackend());
ui.generate.addEventListener('click', () => void runGeneration());
ui.stop.addEventListener('click', () => { cancelRequested = true; });
linkHover();
updateButtons();

// ?model=URL loads that folder right away (e.g. a model served next to the page).
const fromQuery = new URLSearchParams(location.search).get('model');
if (fromQuery) {
  ui.modelUrl.value = fromQuery;
  ui.loadDemo.click();
}
