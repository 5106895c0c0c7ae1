import { Message } from 'apache-arrow';

/**
 * Bounds checks for Arrow IPC messages before apache-arrow sees them. apache-arrow (and the
 * flatbuffers runtime under it) trusts every length in a file: a vector length inside the
 * metadata makes it build that many objects, a record batch `length` drives row loops, a body
 * length sizes reads. Here every such length is checked against the bytes that actually exist,
 * so a damaged file fails with a short message instead of allocating gigabytes.
 */

/** Thrown for a length or offset that points outside the bytes it describes. */
export class IpcCheckError extends Error {}

/** Deepest Field nesting accepted (list<list<...>>); real schemas stay in single digits. */
const MAX_FIELD_DEPTH = 64;

/** Minimal bounds-checked flatbuffer walker over one metadata buffer. */
class Fb {
  constructor(private readonly b: Uint8Array, private readonly what: string) {}

  private need(pos: number, n: number, what: string): void {
    if (!(pos >= 0 && pos + n <= this.b.length)) throw new IpcCheckError(`${this.what}: ${what} at byte ${pos} runs past the ${this.b.length}-byte metadata`);
  }

  i32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.b[pos]! | (this.b[pos + 1]! << 8) | (this.b[pos + 2]! << 16) | (this.b[pos + 3]! << 24);
  }

  u8(pos: number, what: string): number {
    this.need(pos, 1, what);
    return this.b[pos]!;
  }

  u16(pos: number, what: string): number {
    this.need(pos, 2, what);
    return this.b[pos]! | (this.b[pos + 1]! << 8);
  }

  /** Table at `pos`: checks its vtable and returns a slot → absolute field position lookup. */
  table(pos: number, what: string): (slot: number) => number {
    const vt = pos - this.i32(pos, `${what} table`);
    const vtSize = this.u16(vt, `${what} vtable`);
    if (vtSize < 4 || vtSize % 2 !== 0) throw new IpcCheckError(`${this.what}: ${what} vtable size ${vtSize} is invalid`);
    this.need(vt, vtSize, `${what} vtable`);
    return (slot: number) => {
      const at = 4 + slot * 2;
      if (at >= vtSize) return 0;
      const off = this.u16(vt + at, `${what} vtable`);
      return off === 0 ? 0 : pos + off;
    };
  }

  /** Table referenced by the uoffset at `fieldPos` (0: absent). */
  ref(fieldPos: number, what: string): number {
    if (fieldPos === 0) return 0;
    return fieldPos + (this.i32(fieldPos, what) >>> 0);
  }

  /** Vector referenced at `fieldPos`: checks `len * elem` bytes fit; returns its element positions. */
  vector(fieldPos: number, elem: number, what: string): { start: number; len: number } {
    if (fieldPos === 0) return { start: 0, len: 0 };
    const at = this.ref(fieldPos, what);
    const len = this.i32(at, `${what} length`) >>> 0;
    this.need(at + 4, len * elem, `${what} (${len} entries)`);
    return { start: at + 4, len };
  }

  /** Vector of tables: checks the vector and hands each table position to `each`. */
  tables(fieldPos: number, what: string, each: (pos: number) => void): void {
    const v = this.vector(fieldPos, 4, what);
    for (let i = 0; i < v.len; i++) each(this.ref(v.start + i * 4, what));
  }
}

function keyValues(fb: Fb, fieldPos: number, what: string): void {
  fb.tables(fieldPos, `${what} custom_metadata`, (p) => {
    const kv = fb.table(p, 'KeyValue');
    fb.vector(kv(0), 1, 'KeyValue.key');
    fb.vector(kv(1), 1, 'KeyValue.value');
  });
}

function field(fb: Fb, pos: number, depth: number): void {
  if (depth > MAX_FIELD_DEPTH) throw new IpcCheckError(`schema nests fields deeper than ${MAX_FIELD_DEPTH}`);
  const f = fb.table(pos, 'Field');
  fb.vector(f(0), 1, 'Field.name');
  const type = fb.ref(f(3), 'Field.type');
  if (type) {
    const t = fb.table(type, 'Field.type');
    // Union is the one type table with a vector (typeIds); other type tables hold scalars only.
    const typeType = f(2) ? fb.u8(f(2), 'Field.type_type') : 0;
    if (typeType === 14) fb.vector(t(1), 4, 'Union.typeIds');
  }
  const dict = fb.ref(f(4), 'Field.dictionary');
  if (dict) {
    const d = fb.table(dict, 'DictionaryEncoding');
    const idx = fb.ref(d(1), 'DictionaryEncoding.indexType');
    if (idx) fb.table(idx, 'DictionaryEncoding.indexType');
  }
  fb.tables(f(5), 'Field.children', (p) => field(fb, p, depth + 1));
  keyValues(fb, f(6), 'Field');
}

function recordBatch(fb: Fb, pos: number): void {
  const r = fb.table(pos, 'RecordBatch');
  fb.vector(r(1), 16, 'RecordBatch.nodes');
  fb.vector(r(2), 16, 'RecordBatch.buffers');
  const comp = fb.ref(r(3), 'RecordBatch.compression');
  if (comp) fb.table(comp, 'BodyCompression');
  fb.vector(r(4), 8, 'RecordBatch.variadicBufferCounts');
}

function schema(fb: Fb, pos: number): void {
  const s = fb.table(pos, 'Schema');
  fb.tables(s(1), 'Schema.fields', (p) => field(fb, p, 0));
  keyValues(fb, s(2), 'Schema');
  fb.vector(s(3), 8, 'Schema.features');
}

/** Walks the file-format Footer flatbuffer (schema and block tables) the same way. */
export function checkFooter(bytes: Uint8Array): void {
  const fb = new Fb(bytes, 'Arrow file footer');
  const f = fb.table(fb.i32(0, 'Footer root') >>> 0, 'Footer');
  const s = fb.ref(f(1), 'Footer.schema');
  if (!s) throw new IpcCheckError('Arrow file footer has no schema');
  schema(fb, s);
  fb.vector(f(2), 24, 'Footer.dictionaries');
  fb.vector(f(3), 24, 'Footer.recordBatches');
  keyValues(fb, f(4), 'Footer');
}

/** Walks the flatbuffer Message in `meta` so no vector length points past its bytes. */
export function checkMessageMetadata(meta: Uint8Array): void {
  const fb = new Fb(meta, 'IPC message');
  const m = fb.table(fb.i32(0, 'Message root') >>> 0, 'Message');
  const headerType = m(1) ? fb.u8(m(1), 'Message.header_type') : 0;
  const header = fb.ref(m(2), 'Message.header');
  if (header) {
    if (headerType === 1) {
      schema(fb, header);
    } else if (headerType === 2) {
      const d = fb.table(header, 'DictionaryBatch');
      const data = fb.ref(d(1), 'DictionaryBatch.data');
      if (data) recordBatch(fb, data);
    } else if (headerType === 3) {
      recordBatch(fb, header);
    }
  }
  keyValues(fb, m(4), 'Message');
}

/**
 * Decodes a checked message and checks its lengths against the body that follows it:
 * bodyLength within `bodyRoom`, every buffer inside the body, and row counts no larger than
 * the body could hold (8 rows per byte: a bit-packed column is the densest there is).
 */
export function decodeCheckedMessage(meta: Uint8Array, bodyRoom: number): Message {
  checkMessageMetadata(meta);
  const msg = Message.decode(meta);
  const body = Number(msg.bodyLength);
  if (!Number.isSafeInteger(body) || body < 0 || body > bodyRoom) {
    throw new IpcCheckError(`message body length ${String(msg.bodyLength)} exceeds the ${bodyRoom} bytes left in the file`);
  }
  if (msg.isRecordBatch() || msg.isDictionaryBatch()) {
    const h = msg.header()!;
    const rb = msg.isDictionaryBatch() ? (h as unknown as { data: { length: number; nodes: { length: number; nullCount: number }[]; buffers: { offset: number; length: number }[] } }).data : (h as unknown as { length: number; nodes: { length: number; nullCount: number }[]; buffers: { offset: number; length: number }[] });
    const maxRows = body * 8 + 64;
    const rows = Number(rb.length);
    if (!Number.isSafeInteger(rows) || rows < 0 || rows > maxRows) throw new IpcCheckError(`record batch claims ${String(rb.length)} rows in a ${body}-byte body`);
    rb.nodes.forEach((n, i) => {
      const len = Number(n.length), nulls = Number(n.nullCount);
      if (!Number.isSafeInteger(len) || len < 0 || len > maxRows) throw new IpcCheckError(`field node ${i} claims ${String(n.length)} values in a ${body}-byte body`);
      if (!Number.isSafeInteger(nulls) || nulls < 0 || nulls > len) throw new IpcCheckError(`field node ${i} claims ${String(n.nullCount)} nulls of ${len} values`);
    });
    rb.buffers.forEach((b, i) => {
      const off = Number(b.offset), len = Number(b.length);
      if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > body) {
        throw new IpcCheckError(`buffer ${i} (offset ${String(b.offset)}, length ${String(b.length)}) lies outside the ${body}-byte body`);
      }
    });
  }
  return msg;
}
