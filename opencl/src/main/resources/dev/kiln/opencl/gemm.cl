// C = act(alpha * op(A) * op(B) + beta * C + bias), row-major, batched by strides (elements); f32, or f64
// with -DGEMM_F64 (devices with cl_khr_fp64). Needs activation.cl prepended.
//
// Transposes are folded into element strides by the host: op(A)[i][p] = a[i*sAi + p*sAp] and
// op(B)[p][j] = b[p*sBp + j*sBj]. Each work-item computes a GEMM_TM x (GEMM_NV vectors of GEMM_VW) register
// tile: per k step GEMM_NV vector loads of B and GEMM_TM broadcasts of A feed GEMM_TM * GEMM_NV vector FMAs.
// The tile and the k block are build options (OpenClGemm's variants), chosen per device or by the autotuner.
// A vector is 512 bits (float16 / double8): CPU drivers such as POCL then get full-width AVX-512 code from
// each work-item without relying on vectorisation across work-items; e.g. 12 x 2 vectors keeps 24
// accumulators, 2 B vectors and a broadcast in the 32 registers.
//
// Two k loops: tiles whose columns are all in range and contiguous in B (sBj == 1) take the plain loop,
// which LLVM keeps entirely in registers; edge tiles and transposed B gather column by column (clamped to
// the last column, those stores skipped). Rows past m are clamped the same way. Keeping the loops apart
// matters: one loop with the gather inside spilled the accumulators to the stack on POCL and ran at a third
// of the speed. With GEMM_KB > 0 the work-group steps through k in blocks of GEMM_KB behind a barrier (see
// there). betaZero != 0 means C is never read (NaNs in it must vanish). Accumulation is in the element type,
// in the order p = 0..k-1 whatever the blocking. offA/offB/offC (elements) start the operands inside larger
// buffers, for callers that work through a batch in chunks (OpenClConvGemm, OpenClGemm's packed plan).
//
// With -DGEMM_PACK_B, b is not op(B) but its copy made by GEMM_PACK_KERNEL (below, same build options):
// panels of GEMM_TN columns, each k rows of GEMM_TN contiguous elements, zero-padded past n, strideB apart
// per batch (sBp, sBj unused). Every tile then takes the contiguous loop reading one sequential stream: no
// L1 set conflicts between B rows a power-of-two row length apart (2048^3 on POCL: ~+8% per core), and
// transposed or ragged B no longer gathers (NT 1024^3: ~20x). OpenClGemm runs the pack in the same plan.

#ifdef GEMM_F64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define GEMM_T double
#define GEMM_VT double8
#define GEMM_VW 8
#define GEMM_VLOAD vload8
#define GEMM_VSTORE vstore8
#define GEMM_KERNEL gemm_f64
#define GEMM_PACK_KERNEL gemm_pack_b_f64
#else
#define GEMM_T float
#define GEMM_VT float16
#define GEMM_VW 16
#define GEMM_VLOAD vload16
#define GEMM_VSTORE vstore16
#define GEMM_KERNEL gemm_f32
#define GEMM_PACK_KERNEL gemm_pack_b_f32
#endif

#ifndef GEMM_TM
#define GEMM_TM 8
#endif
#ifndef GEMM_NV
#define GEMM_NV 1
#endif
#ifndef GEMM_KB
#define GEMM_KB 0
#endif
#define GEMM_TN (GEMM_VW * GEMM_NV)
#ifndef GEMM_PACK_ROWS
#define GEMM_PACK_ROWS 64
#endif

#if GEMM_TM == 1
#define GEMM_ROWS(X) X(0)
#elif GEMM_TM == 2
#define GEMM_ROWS(X) X(0) X(1)
#elif GEMM_TM == 4
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3)
#elif GEMM_TM == 6
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#elif GEMM_TM == 8
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#elif GEMM_TM == 12
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#elif GEMM_TM == 14
#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)
#else
#error "GEMM_TM must be 1, 2, 4, 6, 8, 12 or 14"
#endif

#if GEMM_NV == 1
#define GEMM_VECS(X, r) X(r, 0)
#elif GEMM_NV == 2
#define GEMM_VECS(X, r) X(r, 0) X(r, 1)
#elif GEMM_NV == 3
#define GEMM_VECS(X, r) X(r, 0) X(r, 1) X(r, 2)
#elif GEMM_NV == 4
#define GEMM_VECS(X, r) X(r, 0) X(r, 1) X(r, 2) X(r, 3)
#else
#error "GEMM_NV must be 1 to 4"
#endif

#ifdef GEMM_F64
inline double gemm_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/** kiln_activate in double: the same formulas (GELU by the tanh approximation). */
inline double gemm_activate(int act, double x) {
    switch (act) {
        case 1: return x > 0.0 ? x : 0.0;
        case 2: return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        case 3: return x * gemm_sigmoid(x);
        case 4: return gemm_sigmoid(x);
        case 5: return tanh(x);
        default: return x;
    }
}
#else
#define gemm_activate kiln_activate
#endif

/** Row p of op(B), GEMM_VW columns from j0, one at a time, clamped to the last column (edge tiles, transposed B). */
inline GEMM_VT gemm_gather_b(__global const GEMM_T* b, long pb, long sBj, int j0, int n) {
    GEMM_T t[GEMM_VW];
    for (int s = 0; s < GEMM_VW; s++) t[s] = b[pb + (long) min(j0 + s, n - 1) * sBj];
    return GEMM_VLOAD(0, t);
}

/**
 * The epilogue for GEMM_VW columns of one row: alpha, beta (C read only when beta != 0), bias, activation.
 * Whole vectors in range do alpha, beta and bias as vectors and store with one vector store (2048^3 on POCL:
 * 4-10% faster than the scalar loop over every element); the activation stays scalar.
 */
inline void gemm_store(__global GEMM_T* c, int i, int m, int j0, int n, GEMM_VT acc, GEMM_T alpha, GEMM_T beta,
                       int betaZero, __global const GEMM_T* bias, int hasBias, int act) {
    if (i >= m || j0 >= n) return;
    if (j0 + GEMM_VW <= n) {
        GEMM_VT v = alpha * acc;
        if (!betaZero) v += beta * GEMM_VLOAD(0, c + j0);
        if (hasBias) v += GEMM_VLOAD(0, bias + j0);
        if (act == 0) {
            GEMM_VSTORE(v, 0, c + j0);
            return;
        }
        GEMM_T t[GEMM_VW];
        GEMM_VSTORE(v, 0, t);
        for (int s = 0; s < GEMM_VW; s++) c[j0 + s] = gemm_activate(act, t[s]);
        return;
    }
    GEMM_T t[GEMM_VW];
    GEMM_VSTORE(acc, 0, t);
    const int count = n - j0;
    for (int s = 0; s < count; s++) {
        const int j = j0 + s;
        GEMM_T v = alpha * t[s];
        if (!betaZero) v += beta * c[j];
        if (hasBias) v += bias[j];
        c[j] = gemm_activate(act, v);
    }
}

#define GEMM_DECL_V(r, v) GEMM_VT c##r##_##v = 0;
#define GEMM_DECL(r) __global const GEMM_T* a##r = a + (long) min(i0 + r, m - 1) * sAi; GEMM_VECS(GEMM_DECL_V, r)
#define GEMM_FMA_V(r, v) c##r##_##v = fma(av, b##v, c##r##_##v);
#define GEMM_STEP(r) { const GEMM_VT av = (GEMM_VT) a##r[pa]; GEMM_VECS(GEMM_FMA_V, r) }
#define GEMM_LOAD_B(r, v) const GEMM_VT b##v = GEMM_VLOAD(0, bp + GEMM_VW * v);
#define GEMM_GATHER_B(r, v) const GEMM_VT b##v = gemm_gather_b(b, (long) p * sBp, sBj, j0 + GEMM_VW * v, n);
#define GEMM_STORE_V(r, v) gemm_store(c + (long) (i0 + r) * ldc, i0 + r, m, j0 + GEMM_VW * v, n, c##r##_##v, \
                                      alpha, beta, betaZero, bias, hasBias, act);
#define GEMM_STORE(r) GEMM_VECS(GEMM_STORE_V, r)

__kernel void GEMM_KERNEL(int m, int n, int k,
                          __global const GEMM_T* a, long sAi, long sAp, long strideA,
                          __global const GEMM_T* b, long sBp, long sBj, long strideB,
                          __global GEMM_T* c, long ldc, long strideC,
                          GEMM_T alpha, GEMM_T beta, int betaZero,
                          __global const GEMM_T* bias, int hasBias, int act, long offA, long offB, long offC) {
    const int j0 = get_global_id(0) * GEMM_TN;
    const int i0 = get_global_id(1) * GEMM_TM;
    const long batch = get_global_id(2);
    // The host rounds the launch up to whole work-groups; surplus work-items have nothing to do (with k
    // blocks they still take part in the group's barriers).
    const int active = i0 < m && j0 < n;
#if GEMM_KB == 0
    if (!active) return;
#endif
    a += offA + batch * strideA;
    b += offB + batch * strideB;
    c += offC + batch * strideC;
    GEMM_ROWS(GEMM_DECL)
#ifdef GEMM_PACK_B
    const int fast = 1;
#else
    const int fast = j0 + GEMM_TN <= n && sBj == 1;
#endif
#if GEMM_KB > 0
    // At least one trip, also for k == 0: POCL 3.1 returned garbage for a zero-trip loop around the barrier
    // (the accumulators it keeps per work-item across barriers seemed never to be set) with 1 x 16 groups.
    for (int kb = 0; kb == 0 || kb < k; kb += GEMM_KB) {
        const int kend = min(k, kb + GEMM_KB);
        if (active) {
#else
    {
        const int kb = 0, kend = k;
        {
#endif
            long pa = (long) kb * sAp;
            if (fast) {
#ifdef GEMM_PACK_B
                __global const GEMM_T* bp = b + ((long) (j0 / GEMM_TN) * k + kb) * GEMM_TN;
                const long sb = GEMM_TN;
#else
                __global const GEMM_T* bp = b + j0 + (long) kb * sBp;
                const long sb = sBp;
#endif
                for (int p = kb; p < kend; p++, pa += sAp, bp += sb) {
                    GEMM_VECS(GEMM_LOAD_B, 0)
                    GEMM_ROWS(GEMM_STEP)
                }
            } else {
                for (int p = kb; p < kend; p++, pa += sAp) {
                    GEMM_VECS(GEMM_GATHER_B, 0)
                    GEMM_ROWS(GEMM_STEP)
                }
            }
        }
#if GEMM_KB > 0
        // Nothing is shared through local memory: the barrier only makes the group step through k together.
        // CPU drivers run a group's work-items one after another between barriers, so the group's A rows and
        // B panels of one k block stay in cache for all of them (2048^3 on POCL: ~1.2x over one pass).
        barrier(CLK_LOCAL_MEM_FENCE);
#endif
    }
    if (!active) return;
    GEMM_ROWS(GEMM_STORE)
}

/**
 * op(B) into the layout GEMM_PACK_B reads: panels of GEMM_TN columns, each k rows of GEMM_TN contiguous
 * elements (zeros past n), batch after batch strideOut apart. One work-item copies GEMM_PACK_ROWS rows of a
 * panel: a few large work-items, as POCL's cost per work-group showed on one work-item per vector.
 */
__kernel void GEMM_PACK_KERNEL(int n, int k, __global const GEMM_T* b, long sBp, long sBj, long strideB, long offB,
                               __global GEMM_T* out, long strideOut) {
    const int panel = get_global_id(0), p0 = get_global_id(1) * GEMM_PACK_ROWS;
    const long batch = get_global_id(2);
    const int j0 = panel * GEMM_TN;
    if (p0 >= k || j0 >= n) return;
    const int pend = min(k, p0 + GEMM_PACK_ROWS);
    b += offB + batch * strideB;
    __global GEMM_T* o = out + batch * strideOut + (long) panel * k * GEMM_TN;
    if (sBj == 1 && j0 + GEMM_TN <= n) {
        for (int p = p0; p < pend; p++) {
            __global const GEMM_T* row = b + (long) p * sBp + j0;
            for (int v = 0; v < GEMM_NV; v++) GEMM_VSTORE(GEMM_VLOAD(v, row), 0, o + (long) p * GEMM_TN + v * GEMM_VW);
        }
    } else {
        // Transposed B or the last panel: column by column, so a transposed B is read along its rows.
        for (int s = 0; s < GEMM_TN; s++) {
            const int j = j0 + s;
            for (int p = p0; p < pend; p++) o[(long) p * GEMM_TN + s] = j < n ? b[(long) p * sBp + (long) j * sBj] : (GEMM_T) 0;
        }
    }
}
