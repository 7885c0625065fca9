package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Blas1Desc;

import java.lang.foreign.MemorySegment;

/**
 * Reference DOT, AXPY and SCAL on strided vectors, in double: DOT sums x[i*incx] * y[i*incy] in index order
 * and rounds once; AXPY and SCAL compute each element in double and round it to the dtype. Elements between
 * the stride positions are not touched; n == 0 writes 0 for DOT and nothing otherwise; AXPY with alpha == 0
 * returns before reading x (BLAS's rule).
 */
final class RefBlas1 {
    private RefBlas1() {}

    static void run(Blas1Desc d, Args args) {
        DType t = d.dtype();
        int n = d.n();
        long incx = d.incx(), incy = d.incy();
        switch (d.op()) {
            case DOT -> {
                MemorySegment x = args.host(Arg.SRC), y = args.host(Arg.SRC2);
                double acc = 0;
                for (int i = 0; i < n; i++) acc += Mem.f(t, x, i * incx) * Mem.f(t, y, i * incy);
                Mem.f(t, args.host(Arg.DST), 0, acc);
            }
            case AXPY -> {
                if (d.alpha() == 0) return;
                MemorySegment x = args.host(Arg.SRC), y = args.host(Arg.DST);
                for (int i = 0; i < n; i++) Mem.f(t, y, i * incy, d.alpha() * Mem.f(t, x, i * incx) + Mem.f(t, y, i * incy));
            }
            case SCAL -> {
                MemorySegment x = args.host(Arg.DST);
                for (int i = 0; i < n; i++) Mem.f(t, x, i * incx, d.alpha() * Mem.f(t, x, i * incx));
            }
        }
    }
}
