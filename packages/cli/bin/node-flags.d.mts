/** The Node flags the compute-heavy commands run under (see node-flags.mjs). */
export declare const COMPUTE_NODE_FLAGS: readonly string[];
export declare const COMPUTE_COMMANDS: readonly string[];
export declare const NODE_FLAGS_ENV: string;
export declare const RERUN_ENV: string;
export declare function commandOf(argv: readonly string[]): string | null;
export declare function rerunArgs(p: { argv: readonly string[]; execArgv: readonly string[]; env: Record<string, string | undefined>; script: string }): string[] | null;
export declare function nodeAcceptsFlags(execPath: string, flags: readonly string[]): boolean;
