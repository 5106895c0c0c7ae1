/* Types of the fuzz targets (plain JavaScript; the libraries under test are passed in untyped). */
export interface FuzzTarget {
  name: string;
  arb: unknown;
  run(input: unknown): unknown;
  allowed(err: unknown): boolean;
  setup?(): unknown;
  teardown?(): unknown;
}
export interface FuzzStats {
  name: string;
  cases: number;
  ok: number;
  typed: number;
  failures: number;
  slow: number;
  memory: number;
  maxMs: number;
  maxArrayBufferGrowth: number;
  ms: number;
  examples: unknown[];
  [key: string]: unknown;
}
export declare function createTargets(libs: Record<string, any>, opts?: { arrowLengthLies?: boolean }): { targets: FuzzTarget[]; cleanupAll(): void };
export declare function runTarget(fc: any, target: FuzzTarget, opts?: Record<string, unknown>): Promise<FuzzStats>;
export declare function summarize(stats: FuzzStats): string;
export declare function findings(stats: FuzzStats): number;
export declare function describeInput(input: unknown, max?: number): string;
export declare function safetensorsDtypeBytes(llama: any): Record<string, number>;
/** `8-byte length | header text | data`, with the length field optionally lying. */
export declare function stBytes(headerText: string, data: Uint8Array, lengthField?: bigint): Uint8Array;
export declare const UNTYPED: Set<string>;
