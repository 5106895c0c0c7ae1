/**
 * Test-only minimal Parquet writer (no parquet writer is installed and pyarrow is absent):
 * PLAIN encoding, UNCOMPRESSED, REQUIRED flat columns, one DATA_PAGE (v1) per column chunk,
 * metadata in Thrift compact protocol. Enough for hyparquet to read back, nothing more.
 * Columns: `{ name, type: 'utf8' | 'int32', values }`.
 */
class Compact {
  bytes = [];
  last = [0];
  varint(n) {
    let v = BigInt(n);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if (v === 0n) {
        this.bytes.push(b);
        return;
      }
      this.bytes.push(b | 0x80);
    }
  }
  zigzag(n) {
    const v = BigInt(n);
    this.varint(v >= 0n ? v << 1n : ((-v) << 1n) - 1n);
  }
  header(id, type) {
    const delta = id - this.last[this.last.length - 1];
    if (delta > 0 && delta <= 15)
      this.bytes.push((delta << 4) | type);
    else {
      this.bytes.push(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }
  i32(id, v) {
    this.header(id, 5);
    this.zigzag(v);
  }
  i64(id, v) {
    this.header(id, 6);
    this.zigzag(v);
  }
  binary(id, s) {
    this.header(id, 8);
    const b = typeof s === 'string' ? new TextEncoder().encode(s) : s;
    this.varint(b.length);
    for (const x of b)
      this.bytes.push(x);
  }
  beginStruct(id) {
    this.header(id, 12);
    this.last.push(0);
  }
  endStruct() {
    this.bytes.push(0);
    this.last.pop();
  }
  /** A list of structs; `each` writes one element's fields. */
  structList(id, xs, each) {
    this.header(id, 9);
    this.listHeader(xs.length, 12);
    for (const x of xs) {
      this.last.push(0);
      each(this, x);
      this.bytes.push(0);
      this.last.pop();
    }
  }
  i32List(id, xs) {
    this.header(id, 9);
    this.listHeader(xs.length, 5);
    for (const x of xs)
      this.zigzag(x);
  }
  stringList(id, xs) {
    this.header(id, 9);
    this.listHeader(xs.length, 8);
    for (const x of xs) {
      const b = new TextEncoder().encode(x);
      this.varint(b.length);
      for (const y of b)
        this.bytes.push(y);
    }
  }
  listHeader(n, t) {
    if (n < 15)
      this.bytes.push((n << 4) | t);
    else {
      this.bytes.push(0xf0 | t);
      this.varint(n);
    }
  }
  stop() {
    this.bytes.push(0);
    return Uint8Array.from(this.bytes);
  }
}
function plain(col, from, to) {
  const parts = [];
  for (let i = from; i < to; i++) {
    const v = col.values[i];
    if (col.type === 'int32') {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, v, true);
      parts.push(...b);
    }
    else {
      const s = new TextEncoder().encode(v);
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, s.length, true);
      parts.push(...len, ...s);
    }
  }
  return Uint8Array.from(parts);
}
/** Parquet bytes for equally long columns, split into row groups of `rowGroupSize`. */
export function writeParquetBytes(cols, rowGroupSize) {
  const n = cols[0].values.length;
  const out = [...new TextEncoder().encode('PAR1')];
  const groups = [];
  for (let start = 0; start < n; start += rowGroupSize) {
    const end = Math.min(n, start + rowGroupSize);
    const chunks = [];
    for (const col of cols) {
      const data = plain(col, start, end);
      const ph = new Compact();
      ph.i32(1, 0); // DATA_PAGE
      ph.i32(2, data.length);
      ph.i32(3, data.length);
      ph.beginStruct(5);
      ph.i32(1, end - start);
      ph.i32(2, 0); // PLAIN
      ph.i32(3, 3); // RLE
      ph.i32(4, 3);
      ph.endStruct();
      const header = ph.stop();
      const offset = out.length;
      out.push(...header, ...data);
      chunks.push({ col, offset, size: header.length + data.length, count: end - start });
    }
    groups.push({ num: end - start, chunks });
  }
  const fm = new Compact();
  fm.i32(1, 1);
  const schema = [{ root: true, name: 'schema', n: cols.length }, ...cols.map((c) => ({ root: false, name: c.name, c }))];
  fm.structList(2, schema, (w, el) => {
    if (el.root) {
      w.binary(4, el.name);
      w.i32(5, el.n);
    }
    else {
      w.i32(1, el.c.type === 'int32' ? 1 : 6);
      w.i32(3, 0); // REQUIRED
      w.binary(4, el.name);
      if (el.c.type === 'utf8')
        w.i32(6, 0); // converted_type UTF8
    }
  });
  fm.i64(3, n);
  fm.structList(4, groups, (w, g) => {
    w.structList(1, g.chunks, (cw, ch) => {
      cw.i64(2, ch.offset);
      cw.beginStruct(3);
      cw.i32(1, ch.col.type === 'int32' ? 1 : 6);
      cw.i32List(2, [0]);
      cw.stringList(3, [ch.col.name]);
      cw.i32(4, 0);
      cw.i64(5, ch.count);
      cw.i64(6, ch.size);
      cw.i64(7, ch.size);
      cw.i64(9, ch.offset);
      cw.endStruct();
    });
    w.i64(2, g.chunks.reduce((s, c) => s + c.size, 0));
    w.i64(3, g.num);
  });
  const meta = fm.stop();
  out.push(...meta);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, meta.length, true);
  out.push(...len, ...new TextEncoder().encode('PAR1'));
  return Uint8Array.from(out);
}
