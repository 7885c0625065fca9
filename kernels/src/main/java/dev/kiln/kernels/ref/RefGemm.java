package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;

import java.lang.foreign.MemorySegment;

/** Reference GEMM: the triple loop, accumulating in double. {@code beta == 0} never reads C. */
final class RefGemm {
    private RefGemm() {}

    static void run(GemmDesc d, Args args) {
        MemorySegment a = args.host(Arg.A), b = args.host(Arg.B), c = args.host(Arg.C);
        MemorySegment bias = d.bias() ? args.host(Arg.BIAS) : null;
        boolean f64 = d.dtype() == DType.F64;
        for (int batch = 0; batch < d.batch(); batch++) {
            long oa = batch * d.strideA(), ob = batch * d.strideB(), oc = batch * d.strideC();
            for (int i = 0; i < d.m(); i++) {
                for (int j = 0; j < d.n(); j++) {
                    double acc = 0;
                    for (int p = 0; p < d.k(); p++) {
                        long ia = oa + (d.transA() == Transpose.N ? (long) i * d.lda() + p : (long) p * d.lda() + i);
                        long ib = ob + (d.transB() == Transpose.N ? (long) p * d.ldb() + j : (long) j * d.ldb() + p);
                        acc += f64 ? Mem.d(a, ia) * Mem.d(b, ib) : (double) Mem.f(a, ia) * Mem.f(b, ib);
                    }
                    long ic = oc + (long) i * d.ldc() + j;
                    double v = d.alpha() * acc;
                    if (d.beta() != 0) v += d.beta() * (f64 ? Mem.d(c, ic) : Mem.f(c, ic));
                    if (bias != null) v += f64 ? Mem.d(bias, j) : Mem.f(bias, j);
                    v = RefActivation.apply(d.activation(), v);
                    if (f64) Mem.d(c, ic, v); else Mem.f(c, ic, v);
                }
            }
        }
    }
}
