/**
 * The routing trace of one generation: a row per token position (prompt and generated), and per
 * layer what the gate did at that position, plus the expert load summed over every forward step.
 *
 * Which forward routes which token: generateSteps reports records *before* choosing token s, so
 * step 0's records are the prefill over the prompt and step s ≥ 1's are the forward over generated
 * token s-1. The last generated token is routed by one extra step (the page asks for one token
 * more than it shows and drops it), so every shown token has a full row.
 */
import type { RoutingRecord } from '@llama-moe/llama-model';
import type { GateTapOutput } from './model-loader.js';

export type { RoutingRecord };

export interface LayerRouting {
  /** [k] chosen experts, best first. */
  topk: number[];
  /** [k] combine weights of `topk`. */
  weights: number[];
  /** [E] routing probabilities, or null when only the selection is known. */
  probs: number[] | null;
}

export interface TokenRow {
  /** Position in the sequence. */
  position: number;
  id: number;
  /** Display text of the token (e.g. "␣the", "<0x0A>"). */
  piece: string;
  kind: 'prompt' | 'generated';
  /** Index = layer; null until the forward that routes this token has run. */
  layers: (LayerRouting | null)[];
}

export class RoutingTrace {
  readonly rows: TokenRow[] = [];
  /** [L][E] routed token-slots per expert, summed over every step. */
  readonly load: number[][];
  /** Steps seen (forward passes). */
  steps = 0;
  droppedSlots = 0;

  constructor(readonly numLayers: number, readonly numExperts: number, readonly topK: number) {
    this.load = Array.from({ length: numLayers }, () => new Array<number>(numExperts).fill(0));
  }

  addToken(id: number, piece: string, kind: TokenRow['kind']): TokenRow {
    const row: TokenRow = { position: this.rows.length, id, piece, kind, layers: new Array<LayerRouting | null>(this.numLayers).fill(null) };
    this.rows.push(row);
    return row;
  }

  /**
   * Fold in one forward step: `records` as generateSteps' onRecords gives them (one per MoE layer),
   * `taps[l]` the gate's output in that forward (full probabilities), `first` the position of the
   * first token the forward processed. Returns the rows it filled.
   */
  ingest(records: readonly RoutingRecord[], first: number, taps?: (GateTapOutput | null)[]): TokenRow[] {
    const touched = new Set<TokenRow>();
    const k = this.topK, E = this.numExperts;
    for (const r of records) {
      if (r.layer < 0 || r.layer >= this.numLayers) continue;
      const T = r.numTokens;
      for (let e = 0; e < E; e++) this.load[r.layer]![e]! += r.load[e] ?? 0;
      this.droppedSlots += r.dropped;
      const tap = taps?.[r.layer] ?? null;
      const tapOk = tap !== null && tap.T === T;
      for (let t = 0; t < T; t++) {
        const row = this.rows[first + t];
        if (!row) continue;
        const topk = r.topkIndices.slice(t * k, t * k + k);
        let weights: number[];
        if (tapOk) weights = Array.from(tap.scores.subarray(t * k, t * k + k));
        // Without a tap, a one-token step's importance is exactly that token's combine weights.
        else if (T === 1) weights = topk.map((e) => r.importance[e] ?? 0);
        else weights = topk.map(() => Number.NaN);
        row.layers[r.layer] = { topk, weights, probs: tapOk ? Array.from(tap.probs.subarray(t * E, t * E + E)) : null };
        touched.add(row);
      }
    }
    this.steps++;
    return [...touched];
  }

  /** Fraction of routed slots per expert in layer l (sums to 1 once anything was routed). */
  loadShare(l: number): number[] {
    const row = this.load[l]!;
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (total > 0 ? v / total : 0));
  }
}

/** A token as shown in a row label: SentencePiece's "▁" as "␣", control characters escaped. */
export function displayPiece(piece: string | undefined, id: number): string {
  if (piece === undefined) return `#${id}`;
  return piece.replaceAll('▁', '␣').replaceAll('Ġ', '␣').replaceAll('Ċ', '↵').replace(/[\u0000-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
