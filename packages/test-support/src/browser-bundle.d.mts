export declare const REPO_ROOT: string;
export declare function isNodeBuiltin(id: string): boolean;
export declare function entrySource(dir: string, subpath?: string): string;
export interface BrowserBundle {
  bytes: number;
  gzipBytes: number;
  builtins: { id: string; importer: string }[];
  inputs: string[];
  workspacePackages: string[];
}
export declare function browserBundle(entry: string): Promise<BrowserBundle>;
