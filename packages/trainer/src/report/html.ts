/**
 * `report.html`: one self-contained page (inline CSS, inline SVG, a few lines of inline JS for
 * legend toggling; no external URL anywhere) with the training loss, learning rate, per-domain
 * validation loss and perplexity, expert-load heatmaps (layers × experts, domains × experts),
 * domain weights over time and the multiple-choice results. It opens offline in any browser.
 */
import type { EvalRecord, MetricRecord, TrainRecord } from '../metrics.js';
import { PALETTE, esc, fmtNum, heatmap, lineChart, type Series } from './svg.js';

/** Cumulative routing counts gathered on stats steps. */
export interface RoutingTotals {
  /** [L][E] tokens routed to each expert of each layer. */
  layers: number[][];
  /** domain → [L][E] tokens of that domain's rows routed to each expert. */
  domains: Record<string, number[][]>;
}

export interface ReportInput {
  title?: string;
  config: Record<string, unknown>;
  history: readonly MetricRecord[];
  routing: RoutingTotals | null;
  /** Extra lines for the summary table (model, output folder, ...). */
  summary?: Record<string, string | number>;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fafafa}
table.config{table-layout:fixed;max-width:100%}table.config td{overflow-wrap:anywhere;word-break:break-word}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.grid-charts{display:flex;flex-wrap:wrap;gap:16px}
figure.chart{margin:0;background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}
svg .plot-bg{fill:#fff;stroke:#ccc}svg .grid{stroke:#eee}svg .tick{font-size:10px;fill:#555}svg .label{font-size:11px;fill:#333}
.legend{display:flex;flex-wrap:wrap;gap:6px;margin-top:4px}
.legend-item{font:12px system-ui,sans-serif;border:1px solid #ddd;background:#fff;border-radius:4px;padding:1px 6px;cursor:pointer}
.legend-item.off{opacity:.4}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e2e2e2;padding:3px 8px;text-align:left;font-size:13px}
.empty{color:#888;font-style:italic}
`;

const JS = `
document.querySelectorAll('.legend-item').forEach(function (b) {
  b.addEventListener('click', function () {
    var fig = document.getElementById(b.getAttribute('data-target'));
    if (!fig) return;
    var g = fig.querySelector('g.series[data-series="' + b.getAttribute('data-series') + '"]');
    if (!g) return;
    var hidden = g.style.display === 'none';
    g.style.display = hidden ? '' : 'none';
    b.classList.toggle('off', !hidden);
  });
});
`;

function domainsOf(evals: readonly EvalRecord[], trains: readonly TrainRecord[]): string[] {
  const set = new Set<string>();
  for (const e of evals) for (const d of Object.keys(e.val_loss_per_domain)) set.add(d);
  for (const t of trains) for (const d of Object.keys(t.domain_weights)) set.add(d);
  return [...set];
}

/** Fraction of each row's total (rows: layers or domains); rows with no tokens stay 0. */
function rowFractions(m: number[][]): number[][] {
  return m.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (s > 0 ? v / s : 0));
  });
}

export function renderReport(inp: ReportInput): string {
  const trains = inp.history.filter((r): r is TrainRecord => r.kind === 'train');
  const evals = inp.history.filter((r): r is EvalRecord => r.kind === 'eval');
  const domains = domainsOf(evals, trains);
  let n = 0;
  const id = () => `chart-${n++}`;
  const charts: string[] = [];
  charts.push(lineChart({ id: id(), title: 'Training loss', xLabel: 'step', yLabel: 'loss', series: [
    { name: 'loss (CE + balance)', points: trains.map((r) => [r.step, r.loss]) },
    { name: 'CE loss', points: trains.map((r) => [r.step, r.ce_loss]) },
  ] }));
  if (trains.some((r) => r.balance_loss !== 0)) {
    charts.push(lineChart({ id: id(), title: 'Balance loss', xLabel: 'step', yLabel: 'Σ layer balance loss', series: [{ name: 'balance loss', points: trains.map((r) => [r.step, r.balance_loss]) }] }));
  }
  charts.push(lineChart({ id: id(), title: 'Learning rate', xLabel: 'step', yLabel: 'lr', series: [{ name: 'lr', points: trains.map((r) => [r.step, r.lr]) }] }));
  charts.push(lineChart({ id: id(), title: 'Gradient norm (before clipping)', xLabel: 'step', yLabel: '‖g‖', series: [{ name: 'grad norm', points: trains.map((r) => [r.step, r.grad_norm]) }] }));
  // One colour per domain across every chart; the overall curve in dark grey.
  const colorOf = (d: string) => PALETTE[domains.indexOf(d) % PALETTE.length]!;
  const valLoss: Series[] = [{ name: 'overall', color: '#333', points: evals.map((e) => [e.step, e.val_loss]) }, ...domains.map((d) => ({ name: d, color: colorOf(d), points: evals.map((e) => [e.step, e.val_loss_per_domain[d] ?? NaN] as [number, number]) }))];
  const valPpl: Series[] = [{ name: 'overall', color: '#333', points: evals.map((e) => [e.step, e.val_ppl]) }, ...domains.map((d) => ({ name: d, color: colorOf(d), points: evals.map((e) => [e.step, e.val_ppl_per_domain[d] ?? NaN] as [number, number]) }))];
  const evalCharts = [
    lineChart({ id: id(), title: 'Validation loss per domain', xLabel: 'step', yLabel: 'mean token NLL', series: valLoss, markers: true }),
    lineChart({ id: id(), title: 'Validation perplexity per domain', xLabel: 'step', yLabel: 'perplexity', series: valPpl, markers: true, logY: true }),
  ];
  // Weights as they were used at each step (train records carry them), plus post-update values from evals.
  const weightPoints = new Map<string, [number, number][]>(domains.map((d) => [d, []]));
  for (const r of trains) for (const d of domains) weightPoints.get(d)!.push([r.step, r.domain_weights[d] ?? NaN]);
  const weightChart = lineChart({ id: id(), title: 'Domain weights over time', xLabel: 'step', yLabel: 'sampling weight', series: domains.map((d) => ({ name: d, color: colorOf(d), points: weightPoints.get(d)! })) });

  const heat: string[] = [];
  const layers = inp.routing?.layers ?? [];
  const E = Math.max(0, ...layers.map((r) => r.length));
  const expertLabels = Array.from({ length: E }, (_, e) => String(e));
  if (layers.length && E) {
    // Shares are drawn on a scale anchored at 0 (said in the titles), so near-uniform load looks uniform.
    heat.push(heatmap({ title: 'Expert load by layer (fraction of the layer’s routed tokens; colour scale from 0)', rowLabels: layers.map((_, l) => `layer ${l}`), colLabels: expertLabels, values: rowFractions(layers), valueLabel: 'fraction', min: 0 }));
    const sampled = Object.keys(inp.routing?.domains ?? {});
    if (sampled.length) {
      // Every domain of the run gets a row; one never drawn on a statistics step is shown empty, not dropped.
      const doms = [...sampled, ...domainsOf(evals, trains).filter((d) => !sampled.includes(d))];
      const byDomain = doms.map((d) => {
        if (!inp.routing!.domains[d]) return new Array<number>(E).fill(NaN);
        const sum = new Array<number>(E).fill(0);
        for (const row of inp.routing!.domains[d]!) row.forEach((v, e) => (sum[e]! += v));
        return sum;
      });
      heat.push(heatmap({
        title: 'Expert load by domain (all layers, fraction of the domain’s routed tokens; colour scale from 0)',
        rowLabels: doms.map((d) => (inp.routing!.domains[d] ? d : `${d} (not sampled on stats steps)`)), colLabels: expertLabels,
        values: byDomain.map((row) => (row.every(Number.isNaN) ? row : rowFractions([row])[0]!)), valueLabel: 'fraction', min: 0,
      }));
    }
  } else {
    heat.push('<p class="empty">No routing statistics (dense model, or stats_every = 0).</p>');
  }

  const last = trains[trains.length - 1];
  const lastEval = evals[evals.length - 1];
  const summary: [string, string][] = Object.entries(inp.summary ?? {}).map(([k, v]) => [k, String(v)]);
  if (last) {
    summary.push(['steps', String(last.step)], ['last loss', fmtNum(last.loss)], ['tokens seen', String(last.tokens_seen)], ['elapsed (s)', fmtNum(last.elapsed_s)], ['tokens / s (last step)', fmtNum(last.tokens_per_sec)], ['GFLOP/s (last step)', fmtNum(last.gflops_per_sec)]);
    const skipped = trains.filter((r) => r.skipped).length;
    if (skipped) summary.push(['skipped steps (non-finite)', String(skipped)]);
  }
  if (lastEval) summary.push(['last validation loss', fmtNum(lastEval.val_loss)], ['last validation perplexity', fmtNum(lastEval.val_ppl)]);
  const taskRows = lastEval?.tasks
    ? Object.entries(lastEval.tasks).map(([t, r]) => `<tr><td>${esc(t)}</td><td>${r.n}</td><td>${fmtNum(r.acc)} ± ${fmtNum(r.acc_stderr)}</td><td>${fmtNum(r.acc_norm)} ± ${fmtNum(r.acc_norm_stderr)}</td></tr>`).join('')
    : '';
  const title = inp.title ?? 'llama-moe training report';
  // The data travels with the page (not executed): handy for scripts that scrape the report.
  const data = JSON.stringify({ config: inp.config, history: inp.history, routing: inp.routing }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(title)}</h1>
<table class="summary"><tbody>${summary.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>
<h2>Training</h2><div class="grid-charts">${charts.join('')}</div>
<h2>Validation</h2><div class="grid-charts">${evals.length ? evalCharts.join('') : '<p class="empty">No evaluations yet.</p>'}</div>
${taskRows ? `<h2>Multiple-choice tasks (step ${lastEval!.step})</h2><table><thead><tr><th>task</th><th>n</th><th>acc</th><th>acc_norm</th></tr></thead><tbody>${taskRows}</tbody></table>` : ''}
<h2>Expert load</h2><div class="grid-charts">${heat.join('')}</div>
<h2>Domain weights</h2><div class="grid-charts">${weightChart}</div>
<h2>Configuration</h2><table class="config"><tbody>${Object.entries(inp.config).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(JSON.stringify(v))}</td></tr>`).join('')}</tbody></table>
<script type="application/json" id="report-data">${data}</script>
<script>${JS}</script>
</body></html>
`;
}
