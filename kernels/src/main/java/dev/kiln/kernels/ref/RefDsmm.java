package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;

import java.lang.foreign.MemorySegment;

/**
 * Reference dense-times-sparse C = A * op(S), in double, C overwritten (see {@link DsmmDesc}). Each stored
 * value v at (r, col) of S contributes A[i][col] * v to C[i][r] when S is transposed, and A[i][r] * v to
 * C[i][col] otherwise, for every row i of A.
 */
final class RefDsmm {
    private RefDsmm() {}

    static void run(DsmmDesc d, Args args) {
        int m = d.m(), n = d.n(), k = d.k();
        MemorySegment a = args.host(Arg.A), rowPtr = args.host(Arg.ROW_PTR), colIdx = args.host(Arg.COL_IDX);
        MemorySegment values = args.host(Arg.VALUES), c = args.host(Arg.C);
        double[] acc = new double[Math.toIntExact((long) m * n)];
        for (int r = 0; r < d.sparseRows(); r++)
            for (int e = Mem.i32(rowPtr, r); e < Mem.i32(rowPtr, r + 1); e++) {
                int col = Mem.i32(colIdx, e);
                double v = Mem.f(values, e);
                for (int i = 0; i < m; i++) {
                    if (d.transposeSparse()) acc[i * n + r] += Mem.f(a, (long) i * k + col) * v;
                    else acc[i * n + col] += Mem.f(a, (long) i * k + r) * v;
                }
            }
        for (int i = 0; i < acc.length; i++) Mem.f(c, i, acc[i]);
    }
}
