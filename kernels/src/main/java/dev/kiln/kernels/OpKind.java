package dev.kiln.kernels;

/** Every op family Kiln knows. Each has one descriptor record and one reference kernel (a test checks). */
public enum OpKind {
    GEMM, CONV, UNARY, BINARY, REDUCE, SOFTMAX, NORM, POOL, PIXEL_SHUFFLE, SPMM, QGEMM, DSMM, SDDMM, QUANTIZE, CONVERT, BLAS1;

    public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
}
