/**
 * Generates the WebAssembly SIMD GEMM module: an MR×8 register-tile micro-kernel over packed
 * operands plus a blocked driver (`gemm_range`) that one thread runs over its share of tiles.
 *
 * Packed layouts (all f32, byte addresses in wasm memory):
 * - A: [mPanels][K][MR]  – panel i holds rows i*MR .. i*MR+MR-1, k-major, zero-padded rows.
 * - B: [nStrips][K][8]   – strip j holds columns j*8 .. j*8+7, k-major, zero-padded columns.
 * - C: [mPanels*MR][nStrips*8] row-major with row pitch `ldc` bytes.
 * Per k step the kernel loads two B vectors, splats MR A scalars and does 2·MR mul+add pairs;
 * MR=4 keeps 8 accumulators + 2 B + 1 A + 1 temp within x64's 15 allocatable xmm registers.
 */
import { Code, emitModule, I32, V128, type FuncDef } from './wasm-emitter.js';

export interface GemmModuleConfig {
  /** k-loop unroll factor. 1 measured fastest: V8 spills the unrolled bodies (measured 2: −28 %, 4: −37 %, 8: −50 %). */
  unroll: number;
  /** K block: one B strip (kc×8 floats) should stay in L1. */
  kc: number;
  /** A panels per M block: MC = mcPanels·MR rows × kc stay in L2. */
  mcPanels: number;
  /** Use relaxed-SIMD fused multiply-add (only where the engine validates it). */
  fma: boolean;
  memory: { initialPages: number; maximumPages: number; shared: boolean };
}

/** Register tile: MR rows × NR columns (two f32x4 per row). MR=4 measured fastest under V8 (5, 6 spill). */
export const MR = 4;
export const NR = 8;

/** micro-kernel: (a, b, c, kc, ldc, loadC) – C[MR×8] (+)= A panel[kc×MR] · B strip[kc×8]. */
function kernel(cfg: GemmModuleConfig): FuncDef {
  const { unroll, fma } = cfg;
  const mr = MR;
  const [A, B, C, KC, LDC, LOADC] = [0, 1, 2, 3, 4, 5];
  const acc = (r: number, h: number) => 6 + r * 2 + h;
  const B0 = 6 + 2 * mr;
  const B1 = B0 + 1;
  const AV = B0 + 2;
  const CR = B0 + 3;
  const code = new Code();

  // accumulators: load C rows or start from zero
  code.get(LOADC).if_();
  code.get(C).set(CR);
  for (let r = 0; r < mr; r++) {
    if (r > 0) code.addLocal(CR, LDC);
    code.get(CR).v128Load(0).set(acc(r, 0));
    code.get(CR).v128Load(16).set(acc(r, 1));
  }
  code.else_();
  for (let r = 0; r < mr; r++) {
    code.v128Zero().set(acc(r, 0));
    code.v128Zero().set(acc(r, 1));
  }
  code.end();

  const step = (u: number) => {
    code.get(B).v128Load(u * 32).set(B0);
    code.get(B).v128Load(u * 32 + 16).set(B1);
    for (let r = 0; r < mr; r++) {
      code.get(A).v128Load32Splat((u * mr + r) * 4).set(AV);
      for (let h = 0; h < 2; h++) {
        if (fma) code.get(AV).get(h === 0 ? B0 : B1).get(acc(r, h)).f32x4RelaxedMadd().set(acc(r, h));
        else code.get(acc(r, h)).get(AV).get(h === 0 ? B0 : B1).f32x4Mul().f32x4Add().set(acc(r, h));
      }
    }
  };

  // unrolled main loop while kc >= unroll
  code.block();
  code.get(KC).i32(unroll).i32LtU().brIf(0);
  code.loop();
  for (let u = 0; u < unroll; u++) step(u);
  code.addImm(A, unroll * mr * 4).addImm(B, unroll * NR * 4);
  code.get(KC).i32(unroll).i32Sub().tee(KC).i32(unroll).i32GeU().brIf(0);
  code.end();
  code.end();
  // remainder
  code.block();
  code.get(KC).i32Eqz().brIf(0);
  code.loop();
  step(0);
  code.addImm(A, mr * 4).addImm(B, NR * 4);
  code.get(KC).i32(1).i32Sub().tee(KC).brIf(0);
  code.end();
  code.end();

  // store
  code.get(C).set(CR);
  for (let r = 0; r < mr; r++) {
    if (r > 0) code.addLocal(CR, LDC);
    code.get(CR).get(acc(r, 0)).v128Store(0);
    code.get(CR).get(acc(r, 1)).v128Store(16);
  }
  return {
    params: [I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [...new Array<number>(2 * mr + 3).fill(V128), I32] as FuncDef['locals'],
    body: code,
    export: 'kernel',
  };
}

/**
 * gemm_range(a, b, c, K, ldc, i0, i1, j0, j1, loadC): all tiles (i in [i0,i1) panels,
 * j in [j0,j1) strips), blocked K → M-block → B strip → A panel so a B strip stays in L1
 * while the M block of A panels streams from L2. Requires K > 0, i0 < i1, j0 < j1.
 */
function driver(cfg: GemmModuleConfig): FuncDef {
  const { kc: KCB, mcPanels } = cfg;
  const mr = MR;
  const [A, B, C, K, LDC, I0, I1, J0, J1, LOADC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [PC, KCL, IC, ICEND, J, I, APB, BSB, T, REM] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  const code = new Code();
  // bytes per A panel (K·MR·4) and per B strip (K·8·4)
  code.get(K).i32(mr * 4).i32Mul().set(APB);
  code.get(K).i32(NR * 4).i32Mul().set(BSB);
  code.i32(0).set(PC);
  code.loop(); // pc
  {
    // kcl = min(KCB, K - pc)
    code.get(K).get(PC).i32Sub().set(REM);
    code.i32(KCB).set(T);
    code.minU(KCL, T, REM);
    code.get(I0).set(IC);
    code.loop(); // ic
    {
      code.get(IC).i32(mcPanels).i32Add().set(T);
      code.minU(ICEND, T, I1);
      code.get(J0).set(J);
      code.loop(); // j
      {
        code.get(IC).set(I);
        code.loop(); // i
        {
          // kernel(a + i*APB + pc*MR*4, b + j*BSB + pc*32, c + i*MR*ldc + j*32, kcl, ldc, loadC | pc != 0)
          code.get(A).get(I).get(APB).i32Mul().i32Add().get(PC).i32(mr * 4).i32Mul().i32Add();
          code.get(B).get(J).get(BSB).i32Mul().i32Add().get(PC).i32(NR * 4).i32Mul().i32Add();
          code.get(C).get(I).i32(mr).i32Mul().get(LDC).i32Mul().i32Add().get(J).i32(NR * 4).i32Mul().i32Add();
          code.get(KCL).get(LDC);
          code.get(LOADC).get(PC).i32(0).i32Ne().i32Or();
          code.call(0);
          code.get(I).i32(1).i32Add().tee(I).get(ICEND).i32LtU().brIf(0);
        }
        code.end();
        code.get(J).i32(1).i32Add().tee(J).get(J1).i32LtU().brIf(0);
      }
      code.end();
      code.get(ICEND).tee(IC).get(I1).i32LtU().brIf(0);
    }
    code.end();
    code.get(PC).i32(KCB).i32Add().tee(PC).get(K).i32LtU().brIf(0);
  }
  code.end();
  return {
    params: new Array<number>(10).fill(I32) as FuncDef['params'],
    results: [],
    locals: new Array<number>(10).fill(I32) as FuncDef['locals'],
    body: code,
    export: 'gemm_range',
  };
}

/**
 * pack_t{G}(src, ld, dst, K, p0, p1): panels p in [p0, p1) of 4·G source rows (row pitch `ld`
 * bytes, each K floats) → dst + p·K·16G as [K][4G], via 4×4 transposes (8 shuffles per 16 floats).
 * Used for A (G=1, rows of A[M,K]) and for transposed B (G=2, rows of B[N,K]).
 */
function packTransposed(groups: number): FuncDef {
  const [SRC, LD, DST, K, P0, P1] = [0, 1, 2, 3, 4, 5];
  const [P, GI, S0, S1, S2, S3, D, KK] = [6, 7, 8, 9, 10, 11, 12, 13];
  const [R0, R1, R2, R3, T0, T1, T2, T3] = [14, 15, 16, 17, 18, 19, 20, 21];
  const S = [S0, S1, S2, S3];
  const dk = 16 * groups; // dst bytes per k
  const code = new Code();
  code.block();
  code.get(P0).get(P1).i32GeU().brIf(0);
  code.get(P0).set(P);
  code.loop(); // panels
  code.i32(0).set(GI);
  code.loop(); // row groups of 4
  // S0 = src + (p*G + gi)*4*ld
  code.get(SRC).get(P).i32(groups).i32Mul().get(GI).i32Add().i32(4).i32Mul().get(LD).i32Mul().i32Add().set(S0);
  code.get(S0).get(LD).i32Add().set(S1);
  code.get(S1).get(LD).i32Add().set(S2);
  code.get(S2).get(LD).i32Add().set(S3);
  // D = dst + p*K*dk + gi*16
  code.get(DST).get(P).get(K).i32Mul().i32(dk).i32Mul().i32Add().get(GI).i32(16).i32Mul().i32Add().set(D);
  code.get(K).i32(2).i32ShrU().set(KK);
  code.block();
  code.get(KK).i32Eqz().brIf(0);
  code.loop();
  code.get(S0).v128Load(0, 0).set(R0);
  code.get(S1).v128Load(0, 0).set(R1);
  code.get(S2).v128Load(0, 0).set(R2);
  code.get(S3).v128Load(0, 0).set(R3);
  code.get(R0).get(R1).shuffleF32(0, 4, 1, 5).set(T0);
  code.get(R0).get(R1).shuffleF32(2, 6, 3, 7).set(T1);
  code.get(R2).get(R3).shuffleF32(0, 4, 1, 5).set(T2);
  code.get(R2).get(R3).shuffleF32(2, 6, 3, 7).set(T3);
  code.get(D).get(T0).get(T2).shuffleF32(0, 1, 4, 5).v128Store(0);
  code.get(D).get(T0).get(T2).shuffleF32(2, 3, 6, 7).v128Store(dk);
  code.get(D).get(T1).get(T3).shuffleF32(0, 1, 4, 5).v128Store(2 * dk);
  code.get(D).get(T1).get(T3).shuffleF32(2, 3, 6, 7).v128Store(3 * dk);
  for (const s of S) code.addImm(s, 16);
  code.addImm(D, 4 * dk);
  code.get(KK).i32(1).i32Sub().tee(KK).brIf(0);
  code.end();
  code.end();
  // K % 4 tail, scalar
  code.get(K).i32(3).i32And().set(KK);
  code.block();
  code.get(KK).i32Eqz().brIf(0);
  code.loop();
  for (let r = 0; r < 4; r++) code.get(D).get(S[r]!).f32Load(0).f32Store(r * 4);
  for (const s of S) code.addImm(s, 4);
  code.addImm(D, dk);
  code.get(KK).i32(1).i32Sub().tee(KK).brIf(0);
  code.end();
  code.end();
  code.get(GI).i32(1).i32Add().tee(GI).i32(groups).i32LtU().brIf(0);
  code.end();
  code.get(P).i32(1).i32Add().tee(P).get(P1).i32LtU().brIf(0);
  code.end();
  code.end();
  return {
    params: new Array<number>(6).fill(I32) as FuncDef['params'],
    results: [],
    locals: [...new Array<number>(8).fill(I32), ...new Array<number>(8).fill(V128)] as FuncDef['locals'],
    body: code,
    export: `pack_t${groups}`,
  };
}

/**
 * pack_c{G}(src, ld, dst, K, p0, p1): panels p in [p0, p1) whose 4·G values per k are already
 * contiguous in the source (k-th row at src + k·ld + p·16G) → dst + p·K·16G. Used for
 * transposed A (G=1, A stored [K,M]) and plain B (G=2, B stored [K,N]).
 */
function packContiguous(groups: number): FuncDef {
  const [SRC, LD, DST, K, P0, P1] = [0, 1, 2, 3, 4, 5];
  const [P, S, D, KK] = [6, 7, 8, 9];
  const dk = 16 * groups;
  const code = new Code();
  code.block();
  code.get(P0).get(P1).i32GeU().brIf(0);
  code.get(K).i32Eqz().brIf(0);
  code.get(P0).set(P);
  code.loop();
  code.get(SRC).get(P).i32(dk).i32Mul().i32Add().set(S);
  code.get(DST).get(P).get(K).i32Mul().i32(dk).i32Mul().i32Add().set(D);
  code.get(K).set(KK);
  code.loop();
  for (let g = 0; g < groups; g++) code.get(D).get(S).v128Load(g * 16, 0).v128Store(g * 16);
  code.addLocal(S, LD);
  code.addImm(D, dk);
  code.get(KK).i32(1).i32Sub().tee(KK).brIf(0);
  code.end();
  code.get(P).i32(1).i32Add().tee(P).get(P1).i32LtU().brIf(0);
  code.end();
  code.end();
  return {
    params: new Array<number>(6).fill(I32) as FuncDef['params'],
    results: [],
    locals: new Array<number>(4).fill(I32) as FuncDef['locals'],
    body: code,
    export: `pack_c${groups}`,
  };
}

/** Exported function names in export order; the worker pool calls them by index. */
export const GEMM_EXPORTS = ['kernel', 'gemm_range', 'pack_t1', 'pack_t2', 'pack_c1', 'pack_c2'] as const;
export type GemmExport = (typeof GEMM_EXPORTS)[number];

export function emitGemmModule(cfg: GemmModuleConfig): Uint8Array<ArrayBuffer> {
  return emitModule({
    memory: cfg.memory,
    funcs: [kernel(cfg), driver(cfg), packTransposed(1), packTransposed(2), packContiguous(1), packContiguous(2)],
  });
}

/** Whether this engine validates relaxed-SIMD f32x4.relaxed_madd (Node 20 needs a V8 flag, so usually not). */
export function relaxedSimdSupported(): boolean {
  const probe = emitGemmModule({ unroll: 1, kc: 8, mcPanels: 1, fma: true, memory: { initialPages: 1, maximumPages: 1, shared: false } });
  try {
    return WebAssembly.validate(probe);
  } catch {
    return false;
  }
}

/** Whether this engine validates fixed-width SIMD (v128) at all. */
export function simdSupported(): boolean {
  const probe = emitGemmModule({ unroll: 1, kc: 8, mcPanels: 1, fma: false, memory: { initialPages: 1, maximumPages: 1, shared: false } });
  try {
    return WebAssembly.validate(probe);
  } catch {
    return false;
  }
}
