package dev.kiln.cpu.quant;

import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;

/**
 * Low-bit GEMM on the CPU ({@link QGemmDesc}; C m x n row-major, A m x k, B n x k, both with k contiguous):
 * the entry point the CPU device registers. Every type is handled: S8S8 and U8S8 exactly ({@link Int8Gemm}),
 * S4 ({@link S4Gemm}), B1 ({@link BinaryGemm}), LMUL ({@link LmulGemm}). Work is split into fixed tasks over
 * {@link dev.kiln.cpu.CpuThreads}, so results are identical for any thread count.
 */
public final class VectorQGemm {
    private VectorQGemm() {}

    /** Yes for every descriptor (the record admits only what these kernels handle). */
    public static Support supports(QGemmDesc d) {
        return Support.YES;
    }

    /** Runs a validated descriptor at width {@code w} on host segments. */
    public static void run(Width w, QGemmDesc d, Args a) {
        MemorySegment src = a.host(Arg.A), wts = a.host(Arg.B), dst = a.host(Arg.C);
        boolean scaled = d.out() != DType.S32 && (d.type() == QGemmDesc.QuantType.S8S8 || d.type() == QGemmDesc.QuantType.U8S8
                || d.type() == QGemmDesc.QuantType.B1);
        MemorySegment srcScales = scaled ? a.host(Arg.SRC_SCALES) : null;
        MemorySegment scales = scaled || d.type() == QGemmDesc.QuantType.S4 ? a.host(Arg.SCALES) : null;
        switch (d.type()) {
            case S8S8, U8S8 -> Int8Gemm.run(w, d, src, wts, dst, srcScales, scales);
            case S4 -> S4Gemm.run(w, d, src, wts, scales, dst);
            case B1 -> BinaryGemm.run(w, d, src, wts, dst, srcScales, scales);
            case LMUL -> LmulGemm.run(w, d, src, wts, dst);
        }
    }
}
