package dev.kiln.bench;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.desc.Blas1Op;
import dev.kiln.kernels.desc.OpDesc;
import org.openjdk.jmh.annotations.Param;

/**
 * JMH for level-1 BLAS: DOT, AXPY or SCAL on {@code n} contiguous elements (memory-bound: read GB/s); the same
 * descriptors as {@code kiln bench blas1}, which also puts OpenBLAS beside them.
 */
public class Blas1Benchmark extends OpBenchmark {
    /** In L2 (64 Ki floats) and main memory (16 Mi = 4096^2). */
    @Param({"65536", "16777216"})
    public int n;

    @Param({"DOT", "AXPY", "SCAL"})
    public String op;

    @Param({"F32", "F64"})
    public String dtype;

    @Override protected OpDesc desc() {
        if (n < 1) throw new IllegalArgumentException("blas1: n must be >= 1, got " + n);
        DType t = DType.valueOf(dtype);
        return switch (Blas1Op.valueOf(op)) {
            case DOT -> Blas1Desc.dot(t, n, 1, 1);
            case AXPY -> Blas1Desc.axpy(t, n, 1e-3, 1, 1);
            case SCAL -> Blas1Desc.scal(t, n, -1, 1);
        };
    }
}
