// C = act(alpha * op(A) * op(B) + beta * C + bias), f32, row-major, batched by strides (elements).
// Needs activation.cl prepended.
//
// Transposes are folded into element strides by the host: op(A)[i][p] = a[i*sAi + p*sAp] and
// op(B)[p][j] = b[p*sBp + j*sBj]. Each work-item computes a TM x TN register tile (8 rows, 16 contiguous
// columns) as eight float16 accumulators: per k step one 16-wide load of B and eight broadcasts of A feed
// 128 FMAs, so CPU drivers (POCL) get full-width vector code without relying on work-item vectorisation,
// and GPUs get 64-byte loads. Edge tiles clamp their loads to the last valid row/column and skip those
// stores. betaZero != 0 means C is never read (NaNs in it must vanish). Accumulation is in f32, in the
// order p = 0..k-1 (no blocking over k). offA/offB/offC (elements) start the operands inside larger buffers,
// for callers that work through a batch in chunks (OpenClConvGemm).

#define TM 8
#define TN 16

/** Row p of op(B), columns j0..j0+15: one vector load when they are contiguous and in range. */
inline float16 gemm_load_b(__global const float* b, long pb, long sBj, int j0, int n, int contiguous) {
    if (contiguous) return vload16(0, b + pb + j0);
    float t[TN];
    for (int s = 0; s < TN; s++) t[s] = b[pb + (long) min(j0 + s, n - 1) * sBj];
    return vload16(0, t);
}

/** The epilogue for one row of the tile: alpha, beta (C read only when beta != 0), bias, activation. */
inline void gemm_store_row(__global float* c, int i, int m, int j0, int n, float16 acc, float alpha, float beta,
                           int betaZero, __global const float* bias, int hasBias, int act) {
    if (i >= m) return;
    float t[TN];
    vstore16(acc, 0, t);
    for (int s = 0; s < TN; s++) {
        const int j = j0 + s;
        if (j >= n) return;
        float v = alpha * t[s];
        if (!betaZero) v += beta * c[j];
        if (hasBias) v += bias[j];
        c[j] = kiln_activate(act, v);
    }
}

#define GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

__kernel void gemm_f32(int m, int n, int k,
                       __global const float* a, long sAi, long sAp, long strideA,
                       __global const float* b, long sBp, long sBj, long strideB,
                       __global float* c, long ldc, long strideC,
                       float alpha, float beta, int betaZero,
                       __global const float* bias, int hasBias, int act, long offA, long offB, long offC) {
    const int j0 = get_global_id(0) * TN;
    const int i0 = get_global_id(1) * TM;
    const long batch = get_global_id(2);
    // The host rounds the launch up to whole work-groups; surplus work-items have nothing to do.
    if (i0 >= m || j0 >= n) return;
    a += offA + batch * strideA;
    b += offB + batch * strideB;
    c += offC + batch * strideC;
#define GEMM_DECL(r) __global const float* a##r = a + (long) min(i0 + r, m - 1) * sAi; float16 c##r = 0.0f;
    GEMM_ROWS(GEMM_DECL)
    const int contiguous = (j0 + TN <= n) && sBj == 1;
    for (int p = 0; p < k; p++) {
        const long pa = (long) p * sAp;
        const float16 bv = gemm_load_b(b, (long) p * sBp, sBj, j0, n, contiguous);
#define GEMM_STEP(r) c##r = fma((float16) a##r[pa], bv, c##r);
        GEMM_ROWS(GEMM_STEP)
    }
#define GEMM_STORE(r) gemm_store_row(c + (long) (i0 + r) * ldc, i0 + r, m, j0, n, c##r, alpha, beta, betaZero, bias, hasBias, act);
    GEMM_ROWS(GEMM_STORE)
}
