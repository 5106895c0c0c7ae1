export interface ParquetColumn {
  name: string;
  type: 'utf8' | 'int32';
  values: (string | number)[];
}
/** Parquet bytes for equally long columns, split into row groups of `rowGroupSize`. */
export declare function writeParquetBytes(cols: ParquetColumn[], rowGroupSize: number): Uint8Array;
