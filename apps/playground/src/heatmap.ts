/**
 * Plain-DOM views of a RoutingTrace: the per-token routing heatmap (a table: rows = tokens,
 * columns = layers × experts) and the per-layer expert load bars. Rows are appended and filled
 * as generation streams; nothing is re-rendered wholesale after the header.
 */
import { displayPiece, type RoutingTrace, type TokenRow } from './routing-trace.js';

/** Colour ramp for a probability in [0, 1] (light lavender → deep indigo; readable on white). */
const STOPS: [number, number, number][] = [
  [247, 246, 252],
  [205, 196, 240],
  [140, 120, 220],
  [84, 56, 180],
  [40, 20, 110],
];

export function probColor(p: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(p) ? p : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i]!, b = STOPS[i + 1]!;
  const c = a.map((v, j) => Math.round(v + (b[j]! - v) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class RoutingHeatmap {
  private readonly table: HTMLTableElement;
  private readonly body: HTMLTableSectionElement;
  private readonly rowEls = new Map<number, HTMLTableRowElement>();
  private trace: RoutingTrace | null = null;

  constructor(private readonly host: HTMLElement) {
    this.table = el('table', 'heatmap-table');
    this.body = el('tbody');
    host.replaceChildren();
  }

  /** Start over for a new trace: header with one column group per layer. */
  reset(trace: RoutingTrace): void {
    this.trace = trace;
    this.rowEls.clear();
    const { numLayers: L, numExperts: E } = trace;
    const head = el('thead');
    const r1 = el('tr');
    const corner = el('th', 'corner', 'token');
    corner.rowSpan = 2;
    r1.append(corner);
    for (let l = 0; l < L; l++) {
      const th = el('th', 'layer-head', `layer ${l}`);
      th.colSpan = E;
      r1.append(th);
    }
    const r2 = el('tr');
    for (let l = 0; l < L; l++) {
      for (let e = 0; e < E; e++) {
        const th = el('th', `expert-head${e === 0 ? ' group-start' : ''}`, String(e));
        th.title = `layer ${l}, expert ${e}`;
        r2.append(th);
      }
    }
    head.append(r1, r2);
    this.body.replaceChildren();
    this.table.replaceChildren(head, this.body);
    // Bigger cells when there are few columns, so a tiny model's map is still readable.
    const cols = L * E;
    this.table.style.setProperty('--cell', `${cols <= 16 ? 30 : cols <= 64 ? 22 : cols <= 256 ? 16 : 12}px`);
    this.host.replaceChildren(this.table);
  }

  /** Add or refresh the rows of `rows` (creates missing rows; fills cells whose layer has routing). */
  update(rows: Iterable<TokenRow>): void {
    const trace = this.trace;
    if (!trace) return;
    // Follow the newest row while the view is at (or near) the bottom; leave it alone if the user scrolled up.
    const host = this.host;
    const follow = host.scrollHeight - host.scrollTop - host.clientHeight < 48;
    let added = false;
    for (const row of rows) {
      let tr = this.rowEls.get(row.position);
      if (!tr) {
        tr = this.createRow(row);
        this.rowEls.set(row.position, tr);
        this.body.append(tr);
        added = true;
      }
      this.fill(tr, row);
    }
    if (added && follow) host.scrollTop = host.scrollHeight;
  }

  private createRow(row: TokenRow): HTMLTableRowElement {
    const trace = this.trace!;
    const tr = el('tr', `token-row ${row.kind}`);
    tr.dataset.position = String(row.position);
    tr.dataset.kind = row.kind;
    const th = el('th', 'token-label');
    th.append(el('span', 'pos', String(row.position)), el('span', 'piece', displayPiece(row.piece, row.id)));
    th.title = `position ${row.position}, token id ${row.id} (${row.kind})`;
    tr.append(th);
    for (let l = 0; l < trace.numLayers; l++) {
      for (let e = 0; e < trace.numExperts; e++) {
        const td = el('td', `cell${e === 0 ? ' group-start' : ''}`);
        td.dataset.layer = String(l);
        td.dataset.expert = String(e);
        tr.append(td);
      }
    }
    return tr;
  }

  private fill(tr: HTMLTableRowElement, row: TokenRow): void {
    const trace = this.trace!;
    const E = trace.numExperts;
    const cells = tr.querySelectorAll<HTMLTableCellElement>('td.cell');
    let routed = 0;
    row.layers.forEach((lr, l) => {
      if (!lr) return;
      routed++;
      for (let e = 0; e < E; e++) {
        const td = cells[l * E + e]!;
        const rank = lr.topk.indexOf(e);
        const p = lr.probs ? lr.probs[e]! : rank >= 0 ? lr.weights[rank]! : 0;
        // Selection only (no probabilities): shade chosen cells by rank.
        const shade = Number.isFinite(p) ? p : rank >= 0 ? 1 - rank / (trace.topK + 1) : 0;
        td.style.background = probColor(shade);
        td.dataset.routed = 'true';
        td.dataset.p = Number.isFinite(p) ? p.toFixed(4) : '';
        td.dataset.selected = rank >= 0 ? 'true' : 'false';
        td.classList.toggle('selected', rank >= 0);
        td.textContent = rank >= 0 ? String(rank + 1) : '';
        td.classList.toggle('dark', shade > 0.5);
        const w = rank >= 0 ? lr.weights[rank]! : null;
        td.title = `${displayPiece(row.piece, row.id)} · layer ${l} · expert ${e}\n`
          + (lr.probs ? `routing probability ${lr.probs[e]!.toFixed(3)}\n` : '')
          + (rank >= 0 ? `selected #${rank + 1}${w !== null && Number.isFinite(w) ? `, combine weight ${w.toFixed(3)}` : ''}` : 'not selected');
      }
    });
    tr.dataset.routedLayers = String(routed);
  }
}

/** Per-layer expert load: the share of routed token-slots each expert received so far. */
export class LoadBars {
  constructor(private readonly host: HTMLElement) {}

  render(trace: RoutingTrace): void {
    const E = trace.numExperts;
    const blocks: HTMLElement[] = [];
    for (let l = 0; l < trace.numLayers; l++) {
      const share = trace.loadShare(l);
      const counts = trace.load[l]!;
      const block = el('div', 'load-layer');
      block.dataset.layer = String(l);
      block.append(el('div', 'load-title', `layer ${l}`));
      const max = Math.max(1 / E, ...share);
      for (let e = 0; e < E; e++) {
        const line = el('div', 'load-row');
        const bar = el('div', 'load-bar');
        const fill = el('div', 'load-fill');
        fill.style.width = `${(share[e]! / max) * 100}%`;
        const ideal = el('div', 'load-ideal');
        ideal.style.left = `${(1 / E / max) * 100}%`;
        ideal.title = `uniform load 1/${E}`;
        bar.append(fill, ideal);
        line.dataset.expert = String(e);
        line.dataset.count = String(counts[e]);
        line.title = `layer ${l}, expert ${e}: ${counts[e]} routed slots (${(share[e]! * 100).toFixed(1)}%)`;
        line.append(el('span', 'load-label', `E${e}`), bar, el('span', 'load-value', `${(share[e]! * 100).toFixed(0)}%`));
        block.append(line);
      }
      blocks.push(block);
    }
    this.host.replaceChildren(...blocks);
  }
}
