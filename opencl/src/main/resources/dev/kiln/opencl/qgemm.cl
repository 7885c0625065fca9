// 8-bit GEMM: C (m x n) = A (m x k, s8, or u8 with -DQ_U8) times B^T (B: n rows of k, s8), exact s32
// accumulation; out 0 stores s32, 1 f32 = acc * srcScales[i] * scales[j], 2 s8 = clamp(rint(that), -128,
// 127) (QGemmDesc). The scaled products are formed in double, as the reference does, which needs
// cl_khr_fp64 (-DQ_F64); without it the host offers only s32 output. One work-item per output element,
// j fastest; it owns its element.

#ifdef Q_F64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#ifdef Q_U8
#define Q_A uchar
#else
#define Q_A char
#endif

__kernel void qgemm_i8(__global const Q_A* a, __global const char* b, __global const float* srcScales,
                       __global const float* scales, __global void* c, int m, int n, int k, int out) {
    const int j = get_global_id(0), i = get_global_id(1);
    if (j >= n || i >= m) return;
    __global const Q_A* ar = a + (long) i * k;
    __global const char* br = b + (long) j * k;
    int acc = 0;
    for (int p = 0; p < k; p++) acc += (int) ar[p] * (int) br[p];
    const long at = (long) i * n + j;
    if (out == 0) {
        ((__global int*) c)[at] = acc;
        return;
    }
#ifdef Q_F64
    const double v = (double) acc * (double) srcScales[i] * (double) scales[j];
    if (out == 1) ((__global float*) c)[at] = (float) v;
    else ((__global char*) c)[at] = (char) clamp(rint(v), -128.0, 127.0);
#endif
}
