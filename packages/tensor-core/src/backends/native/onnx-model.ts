/**
 * Hand-written protobuf encoder for the one ONNX graph the native backend needs: a single
 * `Gemm` node (opset 13, IR version 8) with symbolic dims, so one session serves every shape.
 * Field numbers follow onnx/onnx.proto3; only what is emitted here is implemented.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class ProtoWriter {
  readonly bytes: number[] = [];

  private varint(v: number): void {
    let n = v;
    if (n < 0 || !Number.isSafeInteger(n)) throw new RangeError(`onnx-model: varint ${v} out of range`);
    while (n >= 0x80) {
      this.bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.bytes.push(n);
  }
  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  int(field: number, v: number): this {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
    return this;
  }
  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const buf = new DataView(new ArrayBuffer(4));
    buf.setFloat32(0, v, true);
    for (let i = 0; i < 4; i++) this.bytes.push(buf.getUint8(i));
    return this;
  }
  bytesField(field: number, b: readonly number[]): this {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytesField(field, [...new TextEncoder().encode(s)]);
  }
  message(field: number, build: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    build(w);
    return this.bytesField(field, w.bytes);
  }
}

/** onnx.TensorProto.DataType.FLOAT */
const ONNX_FLOAT = 1;
/** onnx.AttributeProto.AttributeType */
const ATTR_FLOAT = 1;
const ATTR_INT = 2;

/** ValueInfoProto{name, type: TypeProto{tensor_type: {elem_type: FLOAT, shape: dims}}}. */
function valueInfo(w: ProtoWriter, name: string, dims: readonly (string | number)[]): void {
  w.string(1, name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.int(1, ONNX_FLOAT).message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      })));
}

export interface GemmModelSpec {
  transA: boolean;
  transB: boolean;
  /** Add a `C` input (beta = 1): Y = op(A)·op(B) + C. */
  withC: boolean;
}

/**
 * ModelProto bytes for `Y[M,N] = Gemm(A, B[, C])` with symbolic M, N, K. Inputs are named
 * `A`, `B`, `C`; the output `Y`.
 */
export function gemmModel(spec: GemmModelSpec): Uint8Array {
  const { transA, transB, withC } = spec;
  const inputs = withC ? ['A', 'B', 'C'] : ['A', 'B'];
  const w = new ProtoWriter();
  w.int(1, 8); // ir_version
  w.string(2, 'llama-moe');
  w.message(7, (graph) => {
    graph.message(1, (node) => {
      for (const i of inputs) node.string(1, i);
      node.string(2, 'Y').string(3, 'gemm').string(4, 'Gemm');
      node.message(5, (at) => at.string(1, 'transA').int(3, transA ? 1 : 0).int(20, ATTR_INT));
      node.message(5, (at) => at.string(1, 'transB').int(3, transB ? 1 : 0).int(20, ATTR_INT));
      node.message(5, (at) => at.string(1, 'alpha').float(2, 1).int(20, ATTR_FLOAT));
      if (withC) node.message(5, (at) => at.string(1, 'beta').float(2, 1).int(20, ATTR_FLOAT));
    });
    graph.string(2, 'matmul');
    graph.message(11, (vi) => valueInfo(vi, 'A', transA ? ['K', 'M'] : ['M', 'K']));
    graph.message(11, (vi) => valueInfo(vi, 'B', transB ? ['N', 'K'] : ['K', 'N']));
    if (withC) graph.message(11, (vi) => valueInfo(vi, 'C', ['M', 'N']));
    graph.message(12, (vi) => valueInfo(vi, 'Y', ['M', 'N']));
  });
  w.message(8, (opset) => opset.string(1, '').int(2, 13));
  return new Uint8Array(w.bytes);
}

export interface BatchedMatmulSpec {
  transA: boolean;
  transB: boolean;
}

/**
 * ModelProto bytes for `Y[b, M, N] = op(A[b]) · op(B[b])` over a batch, one session run for all
 * of it: onnxruntime's contrib `FusedMatMul` (domain com.microsoft, CPU EP), which takes the
 * transposes as attributes (plain MatMul would need Transpose nodes) and hands the batch to MLAS
 * in one call. Symbolic dims; inputs `A` [b, M, K] (or [b, K, M]), `B` [b, K, N] (or [b, N, K]).
 */
export function batchedMatmulModel(spec: BatchedMatmulSpec): Uint8Array {
  const { transA, transB } = spec;
  const w = new ProtoWriter();
  w.int(1, 8); // ir_version
  w.string(2, 'llama-moe');
  w.message(7, (graph) => {
    graph.message(1, (node) => {
      node.string(1, 'A').string(1, 'B');
      node.string(2, 'Y').string(3, 'bmm').string(4, 'FusedMatMul').string(7, 'com.microsoft');
      node.message(5, (at) => at.string(1, 'transA').int(3, transA ? 1 : 0).int(20, ATTR_INT));
      node.message(5, (at) => at.string(1, 'transB').int(3, transB ? 1 : 0).int(20, ATTR_INT));
      node.message(5, (at) => at.string(1, 'alpha').float(2, 1).int(20, ATTR_FLOAT));
    });
    graph.string(2, 'bmm');
    graph.message(11, (vi) => valueInfo(vi, 'A', transA ? ['Bt', 'K', 'M'] : ['Bt', 'M', 'K']));
    graph.message(11, (vi) => valueInfo(vi, 'B', transB ? ['Bt', 'N', 'K'] : ['Bt', 'K', 'N']));
    graph.message(12, (vi) => valueInfo(vi, 'Y', ['Bt', 'M', 'N']));
  });
  w.message(8, (opset) => opset.string(1, '').int(2, 13));
  w.message(8, (opset) => opset.string(1, 'com.microsoft').int(2, 1));
  return new Uint8Array(w.bytes);
}
