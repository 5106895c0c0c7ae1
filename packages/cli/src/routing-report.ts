/** `llama-moe routing` output: a text summary, and a self-contained HTML page of heatmaps. */
import { heatmap } from '@llama-moe/trainer';
import type { RoutingReport } from './routing-stats.js';

const pct = (v: number) => `${(100 * v).toFixed(1)}`;

export function routingText(r: RoutingReport): string {
  const lines: string[] = [`${r.experts} experts, top-${r.topK}; ${r.domains.map((d) => `${d.name} ${d.blocks} blocks / ${d.tokens} tokens`).join(', ')}`];
  for (const L of r.layers) {
    lines.push('', `layer ${L.layer}: load per expert (% of assignments), routing entropy (nats), dropped tokens${L.domains[r.domains[0]?.name ?? '']?.dense ? ', most-active expert (% of tokens)' : ''}`);
    const w = Math.max(6, ...r.domains.map((d) => d.name.length));
    lines.push(`  ${'domain'.padEnd(w)}  entropy  dropped  ${Array.from({ length: r.experts }, (_, e) => `e${e}`.padStart(5)).join(' ')}`);
    for (const d of r.domains) {
      const s = L.domains[d.name];
      if (!s) continue;
      lines.push(`  ${d.name.padEnd(w)}  ${s.entropy.toFixed(3).padStart(7)}  ${String(s.dropped).padStart(7)}  ${s.load.map((v) => pct(v).padStart(5)).join(' ')}`);
      if (s.dense) lines.push(`  ${''.padEnd(w)}  ${'dense'.padStart(7)}  ${''.padStart(7)}  ${s.dense.map((v) => pct(v).padStart(5)).join(' ')}`);
    }
    const names = r.domains.map((d) => d.name);
    const pairs: string[] = [];
    for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) pairs.push(`${names[i]}/${names[j]} ${L.topkOverlap[names[i]!]![names[j]!]!.toFixed(2)}`);
    if (pairs.length) lines.push(`  top-${r.topK} overlap: ${pairs.join(', ')}`);
  }
  return lines.join('\n') + '\n';
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function routingHtml(r: RoutingReport, title: string): string {
  const experts = Array.from({ length: r.experts }, (_, e) => String(e));
  const names = r.domains.map((d) => d.name);
  const sections = r.layers.map((L) => {
    const rows = names.filter((d) => L.domains[d]);
    const parts = [`<h2>Layer ${L.layer}</h2>`, heatmap({ title: `layer ${L.layer}: share of each domain's expert assignments`, rowLabels: rows, colLabels: experts, values: rows.map((d) => L.domains[d]!.load), min: 0 })];
    if (rows.some((d) => L.domains[d]!.dense)) parts.push(heatmap({ title: `layer ${L.layer}: share of tokens whose most active neuron is in the expert`, rowLabels: rows, colLabels: experts, values: rows.map((d) => L.domains[d]!.dense ?? []), min: 0 }));
    parts.push(`<table><tr><th>domain</th><th>tokens</th><th>entropy (nats)</th><th>dropped</th>${rows.map((d) => `<th>top-${r.topK} overlap with ${esc(d)}</th>`).join('')}</tr>${rows
      .map((d) => `<tr><td>${esc(d)}</td><td>${L.domains[d]!.tokens}</td><td>${L.domains[d]!.entropy.toFixed(3)}</td><td>${L.domains[d]!.dropped}</td>${rows.map((b) => `<td>${L.topkOverlap[d]![b]!.toFixed(2)}</td>`).join('')}</tr>`)
      .join('')}</table>`);
    return `<section>${parts.join('\n')}</section>`;
  });
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;margin:8px 0 24px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
figure{margin:8px 0}figcaption{font-weight:600}.tick,.label{font-size:11px}</style></head><body>
<h1>${esc(title)}</h1><p>${r.experts} experts, top-${r.topK}. ${r.domains.map((d) => `${esc(d.name)}: ${d.blocks} blocks, ${d.tokens} tokens`).join('; ')}.
Colour scales run from 0 to each chart's maximum (a uniform load over E experts is 1/E).</p>
${sections.join('\n')}
</body></html>
`;
}
