import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { ReaderError } from '../errors.js';
import type { ReaderCursor, TextRecord } from './types.js';

/**
 * Parquet via hyparquet, one row group at a time (only the text column is decoded), so memory is
 * bounded by one row group's text column. A resume cursor skips whole row groups unread.
 */
export async function* readParquet(file: string, opts: { textColumn?: string; start?: ReaderCursor } = {}): AsyncGenerator<TextRecord> {
  const column = opts.textColumn ?? 'text';
  const skip = opts.start?.row ?? 0;
  let buffer;
  let metadata: FileMetaData;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw new ReaderError('read', file, undefined, undefined, `${file}: not a readable Parquet file (${(e as Error).message})`);
  }
  // Top-level columns: schema[0] is the root; its children follow (nested ones carry num_children).
  const top: { name: string; type?: string; converted?: string; logical?: string }[] = [];
  {
    const schema = metadata.schema;
    let i = 1;
    const skipSubtree = (): void => {
      const n = schema[i]!.num_children ?? 0;
      i++;
      for (let k = 0; k < n; k++) skipSubtree();
    };
    while (i < schema.length) {
      const el = schema[i]!;
      top.push({ name: el.name, type: el.type, converted: el.converted_type, logical: el.logical_type?.type });
      skipSubtree();
    }
  }
  const col = top.find((c) => c.name === column);
  if (!col) {
    throw new ReaderError('column', file, undefined, column, `${file}: missing column "${column}" (columns: ${top.map((c) => c.name).join(', ') || 'none'}); set textColumn`);
  }
  if (col.type !== 'BYTE_ARRAY') {
    throw new ReaderError('column', file, 0, column, `${file}: row 0: column "${column}" has Parquet type ${col.type ?? 'group'}, expected BYTE_ARRAY (UTF8) text`);
  }
  let groupStart = 0;
  for (const rg of metadata.row_groups) {
    const n = Number(rg.num_rows);
    const groupEnd = groupStart + n;
    if (groupEnd > skip && n > 0) {
      const from = Math.max(groupStart, skip);
      let rows;
      try {
        rows = await parquetReadObjects({ file: buffer, metadata, columns: [column], rowStart: from, rowEnd: groupEnd });
      } catch (e) {
        throw new ReaderError('read', file, from, column, `${file}: row ${from}: cannot decode Parquet row group (${(e as Error).message})`);
      }
      for (let i = 0; i < rows.length; i++) {
        const row = from + i;
        const v = rows[i]![column];
        if (typeof v !== 'string') {
          throw new ReaderError('column', file, row, column, `${file}: row ${row}: column "${column}" is ${v === null ? 'null' : v instanceof Uint8Array ? 'binary' : typeof v}, expected a string`);
        }
        yield { text: v, row, file, cursor: { row: row + 1 } };
      }
    }
    groupStart = groupEnd;
  }
}
