/**
 * The experiment summary in three forms: a plain-text table (printed by `llama-moe demo`), a
 * Markdown table (docs/REPRODUCTION.md) and a self-contained index.html linking every run's
 * report.html (inline CSS, no script, no external URL: it opens offline).
 */
import type { PerplexityReport } from '@llama-moe/trainer';
import { renderTable } from '../format.js';
import type { ExperimentSummary, RunSummary } from './experiment.js';

export interface SummaryRow {
  model: string;
  stage: string;
  /** Active FFN share per token, as "k/E". */
  active: string;
  report: PerplexityReport;
  run: RunSummary | null;
  /** After continual pre-training (the rows the best-value marks compare). */
  trained: boolean;
}

/** Dense first, then each run before and after training (the control has only "after"). */
export function summaryRows(s: ExperimentSummary): SummaryRow[] {
  const rows: SummaryRow[] = [{ model: 'dense', stage: 'pre-trained', active: '1', report: s.dense, run: null, trained: false }];
  for (const r of s.runs) {
    const active = r.kind === 'dense' ? '1' : `${r.topK}/${r.experts}`;
    if (r.kind === 'moe') rows.push({ model: r.name, stage: 'after split', active, report: r.before, run: r, trained: false });
    rows.push({ model: r.name, stage: `trained, ${r.tokens.toLocaleString('en-US')} tokens`, active, report: r.after, run: r, trained: true });
  }
  return rows;
}

function ppl(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return String(v);
  return v >= 1000 ? v.toExponential(2) : v.toFixed(2);
}

function cells(s: ExperimentSummary, row: SummaryRow): string[] {
  return [...s.domains.map((d) => ppl(row.report.perDomain[d]?.ppl)), ppl(row.report.overall.ppl), `${ppl((row.report.overall.ppl / s.dense.overall.ppl - 1) * 100)}%`];
}

/** The printed table: one row per model and stage, perplexity per domain, overall, change vs dense. */
export function renderSummaryText(s: ExperimentSummary): string {
  const header = ['model', 'stage', 'active', ...s.domains, 'all', 'vs dense'];
  const rows = summaryRows(s).map((r) => [r.model, r.stage, r.active, ...cells(s, r)]);
  const align = header.map((_, j) => (j < 3 ? 'left' : 'right') as 'left' | 'right');
  return renderTable(header, rows, align);
}

/** The same table in GitHub Markdown. */
export function renderSummaryMarkdown(s: ExperimentSummary): string {
  const header = ['model', 'stage', 'active FFN', ...s.domains, '**all**', 'vs dense'];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, j) => (j < 3 ? '---' : '---:')).join(' | ')} |`];
  for (const r of summaryRows(s)) {
    const c = cells(s, r);
    c[c.length - 2] = `**${c[c.length - 2]}**`;
    lines.push(`| ${[r.model, r.stage, r.active, ...c].join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fafafa;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e2e2e2;padding:3px 8px;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.dense td{background:#f3f6fb}td.best{font-weight:700;color:#0a6b2d}
.muted{color:#666}code{background:#f0f0f0;padding:0 3px;border-radius:3px}
.scroll{overflow-x:auto;max-width:100%}.scroll td:nth-child(-n+3){white-space:nowrap}td.text{overflow-wrap:anywhere}
`;

/** index.html: the table (best "after" value per column in bold), links to each run's report and model. */
export function renderIndexHtml(s: ExperimentSummary, title = 'llama-moe demo'): string {
  const rows = summaryRows(s);
  const cols = [...s.domains, 'all'];
  const value = (r: SummaryRow, c: string) => (c === 'all' ? r.report.overall.ppl : (r.report.perDomain[c]?.ppl ?? NaN));
  const trained = rows.filter((r) => r.trained);
  const best = new Map(cols.map((c) => [c, Math.min(...trained.map((r) => value(r, c)))]));
  const body = rows.map((r) => {
    const tds = cols.map((c) => {
      const v = value(r, c);
      const isBest = r.trained && v === best.get(c);
      return `<td class="num${isBest ? ' best' : ''}">${esc(ppl(v))}</td>`;
    });
    const link = r.run ? ` <a href="${esc(r.run.paths.report)}">report</a>` : '';
    return `<tr${r.run ? '' : ' class="dense"'}><td>${esc(r.model)}${r.trained ? link : ''}</td><td>${esc(r.stage)}</td><td>${esc(r.active)}</td>${tds.join('')}</tr>`;
  });
  const runsList = s.runs.map((r) => {
    const init = r.paths.init ? `, split model <a href="${esc(r.paths.init)}/">${esc(r.paths.init)}/</a>` : '';
    return `<li><b>${esc(r.name)}</b>: <a href="${esc(r.paths.report)}">training report</a>, <a href="${esc(r.paths.metrics)}">metrics.jsonl</a>, trained model <a href="${esc(r.paths.model)}/">${esc(r.paths.model)}/</a>${init}; loss ${esc(r.trainLoss.first.toFixed(3))} → ${esc(r.trainLoss.last.toFixed(3))} in ${esc(r.trainSeconds.toFixed(1))} s</li>`;
  });
  const b = s.budget;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="muted">${esc(s.created)} · dense model <code>${esc(s.denseModel)}</code> · backend ${esc(s.backend)} · ${esc(String(s.machine.cpus))} × ${esc(s.machine.cpuModel)} · ${esc(s.seconds.total.toFixed(1))} s</p>
<p>Per-domain perplexity on ${esc(String(s.validation.blocksPerDomain))} held-out blocks of ${esc(String(s.validation.seqLen))} tokens per domain (documents no model was trained on). Every MoE was split from the same dense model and trained on the same budget: ${esc(String(b.steps))} steps × ${esc(String(b.batchSize))} sequences × ${esc(String(b.seqLen))} tokens, peak learning rate ${esc(String(b.lr))}, Sheared-LLaMA dynamic domain weights with the dense model's losses as reference. Lower is better; the best trained value per column is in bold green.</p>
<h2>Perplexity</h2>
<div class="scroll"><table><thead><tr><th>model</th><th>stage</th><th>active FFN</th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>
<tbody>
${body.join('\n')}
</tbody></table></div>
<h2>Perplexity per domain</h2>
${comparisonChart(s)}
${continuationsHtml(s)}
<h2>Runs</h2>
<ul>
${runsList.join('\n')}
</ul>
<p class="muted">Machine-readable: <a href="summary.json">summary.json</a>. Corpus: ${esc(s.corpus.description)}, ${esc((s.corpus.bytes / 1e6).toFixed(2))} MB.</p>
</body></html>
`;
}

/** The prompt and each model's greedy continuation, as printed by the demo (empty without a prompt). */
export function renderContinuationsText(s: ExperimentSummary, source?: string): string {
  if (!s.continuation) return '';
  const lines = [`Greedy continuations of a test-set prompt${source ? ` (${source})` : ''}:`, `  prompt: ${s.continuation.prompt}`, `  dense: …${oneLine(s.continuation.dense)}`];
  for (const r of s.runs) {
    if (!r.continuation) continue;
    if (r.continuation.split !== null) lines.push(`  ${r.name}, after split: …${oneLine(r.continuation.split)}`);
    lines.push(`  ${r.name}, trained: …${oneLine(r.continuation.trained)}`);
  }
  return lines.join('\n') + '\n';
}

function oneLine(t: string): string {
  return t.replace(/\n/g, ' ⏎ ');
}

const SERIES_COLOURS = ['#333333', '#9ecae1', '#2171b5', '#fdae6b', '#d94801', '#a1d99b', '#238b45', '#bcbddc', '#6a51a3'];

/**
 * Grouped bars, one group per domain (and "all"): the dense model, then each run after the split
 * (light) and after training (dark). Log-scale y axis from the smallest value shown: a split can
 * multiply perplexity, and training brings it back near the dense value, so a linear axis would
 * hide the difference that matters.
 */
export function comparisonChart(s: ExperimentSummary): string {
  const series: { label: string; value: (d: string) => number }[] = [{ label: 'dense', value: (d) => pick(s.dense, d) }];
  for (const r of s.runs) {
    if (r.kind === 'moe') series.push({ label: `${r.name}, after split`, value: (d) => pick(r.before, d) });
    series.push({ label: `${r.name}, trained`, value: (d) => pick(r.after, d) });
  }
  const groups = [...s.domains, 'all'];
  const values = groups.flatMap((g) => series.map((x) => x.value(g))).filter((v) => Number.isFinite(v) && v > 0);
  if (values.length === 0) return '<p class="muted">no perplexities to chart</p>';
  const lo = Math.log(Math.min(...values)) - 0.1, hi = Math.log(Math.max(...values)) + 0.05;
  const bar = 7, gap = 10, left = 52, top = 10, plotH = 220, bottom = 96;
  const groupW = series.length * bar + gap;
  const W = left + groups.length * groupW + 10, H = top + plotH + bottom;
  const y = (v: number) => top + plotH - ((Math.log(v) - lo) / (hi - lo)) * plotH;
  const parts: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="perplexity per domain">`];
  for (const t of logTicks(Math.exp(lo), Math.exp(hi))) {
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/><text x="${left - 4}" y="${(y(t) + 3).toFixed(1)}" text-anchor="end" font-size="10">${esc(fmtTick(t))}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW;
    series.forEach((sr, si) => {
      const v = sr.value(g);
      if (!(Number.isFinite(v) && v > 0)) return;
      parts.push(`<rect x="${x0 + si * bar}" y="${y(v).toFixed(1)}" width="${bar - 1}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${SERIES_COLOURS[si % SERIES_COLOURS.length]}"><title>${esc(g)} · ${esc(sr.label)}: ${esc(ppl(v))}</title></rect>`);
    });
    const cx = x0 + (series.length * bar) / 2;
    parts.push(`<text x="${cx}" y="${top + plotH + 8}" font-size="10" text-anchor="end" transform="rotate(-45 ${cx} ${top + plotH + 8})"${g === 'all' ? ' font-weight="700"' : ''}>${esc(g)}</text>`);
  });
  parts.push('</svg>');
  const legend = series.map((sr, si) => `<span style="white-space:nowrap;margin-right:12px"><span style="display:inline-block;width:10px;height:10px;background:${SERIES_COLOURS[si % SERIES_COLOURS.length]};margin-right:4px"></span>${esc(sr.label)}</span>`).join(' ');
  return `<figure style="margin:0;overflow-x:auto">${parts.join('')}<figcaption class="muted" style="font-size:12px">${legend}<br>Validation perplexity, log scale (lower is better).</figcaption></figure>`;
}

function pick(r: PerplexityReport, d: string): number {
  return d === 'all' ? r.overall.ppl : (r.perDomain[d]?.ppl ?? NaN);
}

/** 1-2-3-5 ticks between lo and hi (a log axis over less than a decade still gets a few). */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) for (const m of [1, 2, 3, 5]) {
    const t = m * 10 ** p;
    if (t >= lo && t <= hi) out.push(t);
  }
  return out;
}

function fmtTick(t: number): string {
  return t >= 1000 ? `${t / 1000}k` : String(t);
}

function continuationsHtml(s: ExperimentSummary): string {
  if (!s.continuation) return '';
  const rows = [`<tr class="dense"><td>dense</td><td>pre-trained</td><td class="text">…${esc(s.continuation.dense)}</td></tr>`];
  for (const r of s.runs) {
    if (!r.continuation) continue;
    if (r.continuation.split !== null) rows.push(`<tr><td>${esc(r.name)}</td><td>after split</td><td class="text">…${esc(r.continuation.split)}</td></tr>`);
    rows.push(`<tr><td>${esc(r.name)}</td><td>trained</td><td class="text">…${esc(r.continuation.trained)}</td></tr>`);
  }
  return `<h2>What the numbers mean: greedy continuations of a test-set prompt</h2>
<p>Prompt: <b>${esc(s.continuation.prompt)}</b></p>
<table><thead><tr><th>model</th><th>stage</th><th>continuation (32 tokens, greedy)</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`;
}
