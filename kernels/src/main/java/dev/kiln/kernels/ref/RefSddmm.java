package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.SddmmDesc;

import java.lang.foreign.MemorySegment;

/**
 * Reference sampled dense-dense product (see {@link SddmmDesc}), in double: for each stored (row, col) of
 * the mask, the dot product of row {@code row} of A' and row {@code col} of B' over k, where A' and B' are
 * A and B, or their transposes when the descriptor reduces over rows.
 */
final class RefSddmm {
    private RefSddmm() {}

    static void run(SddmmDesc d, Args args) {
        int m = d.m(), n = d.n(), k = d.k();
        MemorySegment a = args.host(Arg.A), b = args.host(Arg.B), rowPtr = args.host(Arg.ROW_PTR), colIdx = args.host(Arg.COL_IDX);
        MemorySegment values = args.host(Arg.VALUES);
        for (int row = 0; row < m; row++)
            for (int e = Mem.i32(rowPtr, row); e < Mem.i32(rowPtr, row + 1); e++) {
                int col = Mem.i32(colIdx, e);
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    long ai = d.reduceOverRows() ? (long) p * m + row : (long) row * k + p;
                    long bi = d.reduceOverRows() ? (long) p * n + col : (long) col * k + p;
                    sum += (double) Mem.f(a, ai) * Mem.f(b, bi);
                }
                Mem.f(values, e, sum);
            }
    }
}
