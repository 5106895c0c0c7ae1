/**
 * Lazy safetensors reader. `open` reads and validates only the header; each `read*` call reads that
 * tensor's bytes with one positioned read into a fresh buffer, so loading one layer of a 7B
 * checkpoint costs about that layer's memory. A corrupt or lying file only ever produces a
 * SafetensorsError: sizes are validated against the real file size before any allocation.
 */
import * as fs from 'node:fs';
import { Tensor } from '@llama-moe/tensor-core';
import { SafetensorsError } from './errors.js';
import { rawToF32, rawToI32 } from './raw-convert.js';
import { openRegularFile } from './open-file.js';
export { rawToF32, rawToI32 };
import { MAX_IO_BYTES } from './atomic.js';
import {
  fmtDims,
  isFloatDType,
  parseHeader,
  parseHeaderLength,
  type SafetensorsDType,
  type SafetensorsTensorInfo,
} from './safetensors-format.js';


/** Read exactly `buf.byteLength` bytes at `position` (readSync may return fewer). */
function readExactly(fd: number, buf: Uint8Array, position: number, file: string, what: string, tensor: string | null): void {
  let done = 0;
  while (done < buf.byteLength) {
    let got: number;
    try {
      got = fs.readSync(fd, buf, done, Math.min(MAX_IO_BYTES, buf.byteLength - done), position + done);
    } catch (e) {
      throw new SafetensorsError(file, tensor, `cannot read ${what}: ${(e as Error).message}`);
    }
    if (got === 0) throw new SafetensorsError(file, tensor, `file ended while reading ${what} (was it truncated or rewritten while open?)`);
    done += got;
  }
}


export class SafetensorsFile {
  /** The path as given to `open` (used in every error message). */
  readonly path: string;
  /** `__metadata__` (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** N, the JSON header length in bytes. */
  readonly headerLength: number;
  /** Absolute file offset of the data section (8 + N). */
  readonly dataStart: number;
  readonly fileSize: number;
  private fd: number | null;
  private readonly tensors: Map<string, SafetensorsTensorInfo>;

  private constructor(path: string, fd: number, fileSize: number, headerLength: number, tensors: Map<string, SafetensorsTensorInfo>, metadata: Readonly<Record<string, string>>) {
    this.path = path;
    this.fd = fd;
    this.fileSize = fileSize;
    this.headerLength = headerLength;
    this.dataStart = 8 + headerLength;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Open and validate the header; no tensor data is read. */
  static open(path: string): SafetensorsFile {
    const { fd, size } = openRegularFile(path, (message) => new SafetensorsError(path, null, message));
    try {
      const first8 = new Uint8Array(8);
      if (size >= 8) readExactly(fd, first8, 0, path, 'the header length', null);
      const n = parseHeaderLength(first8, size, path);
      const headerBytes = new Uint8Array(n);
      readExactly(fd, headerBytes, 8, path, 'the header', null);
      const { tensors, metadata } = parseHeader(headerBytes, size - 8 - n, path);
      return new SafetensorsFile(path, fd, size, n, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Tensor names in header order. */
  keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.path, name, `no such tensor (the file holds ${this.tensors.size}${this.tensors.size ? `, e.g. '${this.keys()[0]}'` : ''})`);
    return info;
  }

  /** The tensor's little-endian bytes, in a fresh buffer. */
  readRaw(name: string): Uint8Array {
    const info = this.info(name);
    if (this.fd === null) throw new SafetensorsError(this.path, name, 'file is closed');
    const buf = new Uint8Array(info.byteLength);
    readExactly(this.fd, buf, this.dataStart + info.dataOffsets[0], this.path, `${info.byteLength} data bytes`, name);
    return buf;
  }

  /**
   * The tensor's raw bytes in pieces read into one reused buffer of `chunkBytes` (each piece is a
   * view valid until the next one is requested): copying a tensor to another file this way costs
   * no per-tensor allocation.
   */
  /** Read the tensor's raw bytes into `dst` (exactly its byte length): lets callers reuse buffers. */
  readRawInto(name: string, dst: Uint8Array): Uint8Array {
    const info = this.info(name);
    if (this.fd === null) throw new SafetensorsError(this.path, name, 'file is closed');
    if (dst.byteLength !== info.byteLength) throw new SafetensorsError(this.path, name, `destination holds ${dst.byteLength} bytes, the tensor has ${info.byteLength}`);
    readExactly(this.fd, dst, this.dataStart + info.dataOffsets[0], this.path, `${info.byteLength} data bytes`, name);
    return dst;
  }

  *rawChunks(name: string, chunkBytes = 256 << 10): Generator<Uint8Array> {
    const info = this.info(name);
    if (this.fd === null) throw new SafetensorsError(this.path, name, 'file is closed');
    const buf = new Uint8Array(Math.max(1, Math.min(chunkBytes, info.byteLength)));
    for (let off = 0; off < info.byteLength; off += buf.byteLength) {
      const n = Math.min(buf.byteLength, info.byteLength - off);
      const view = buf.subarray(0, n);
      readExactly(this.fd, view, this.dataStart + info.dataOffsets[0] + off, this.path, `${n} data bytes`, name);
      yield view;
    }
  }

  /** The tensor as f32 (F16 / BF16 exact, F64 / I64 rounded to nearest f32, ints and bools as values). */
  readF32(name: string): Float32Array {
    const info = this.info(name);
    return rawToF32(this.readRaw(name), info.dtype);
  }

  /** An integer or bool tensor as int32 (I64 values must fit in int32). */
  readI32(name: string): Int32Array {
    const info = this.info(name);
    if (isFloatDType(info.dtype)) throw new SafetensorsError(this.path, name, `is ${info.dtype} ${fmtDims(info.shape)}, not an integer tensor; use readF32`);
    const r = rawToI32(this.readRaw(name), info.dtype);
    if (!(r instanceof Int32Array)) throw new SafetensorsError(this.path, name, `I64 value ${r.outOfRange} at element ${r.at} does not fit in int32`);
    return r;
  }

  /** Float dtypes become float32 tensors, integer / bool dtypes int32 tensors; `name` is set. */
  readTensor(name: string): Tensor {
    const info = this.info(name);
    const data = isFloatDType(info.dtype) ? this.readF32(name) : this.readI32(name);
    return new Tensor(data, info.shape, { name });
  }

  get closed(): boolean {
    return this.fd === null;
  }

  /** Release the file descriptor; later reads throw. Safe to call twice. */
  close(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      fs.closeSync(fd);
    }
  }
}
