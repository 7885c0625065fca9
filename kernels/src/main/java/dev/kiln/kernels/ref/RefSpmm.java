package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.SpmmDesc;

import java.lang.foreign.MemorySegment;

/**
 * Reference sparse-times-dense C = A * B, in double, C overwritten. Each stored value a at (row, col)
 * adds a * B[col][:] to C[row][:]; the formats differ only in how (row, col, a) are listed (see
 * {@link SpmmDesc}): CSR by ROW_PTR/COL_IDX, BSR by block row and block column with row-major blocks, 2:4
 * by two values per group of four whose positions are 2-bit fields of META (value e in byte e/4, bits
 * 2(e%4)). Indices are trusted: the facade checks sizes, not index contents.
 */
final class RefSpmm {
    private RefSpmm() {}

    static void run(SpmmDesc d, Args args) {
        int n = d.n();
        MemorySegment values = args.host(Arg.VALUES), b = args.host(Arg.B), c = args.host(Arg.C);
        double[] acc = new double[Math.toIntExact((long) d.m() * n)];
        switch (d.format()) {
            case CSR -> {
                MemorySegment rowPtr = args.host(Arg.ROW_PTR), colIdx = args.host(Arg.COL_IDX);
                for (int row = 0; row < d.m(); row++)
                    for (int e = Mem.i32(rowPtr, row); e < Mem.i32(rowPtr, row + 1); e++)
                        axpy(acc, row, n, Mem.f(values, e), b, Mem.i32(colIdx, e));
            }
            case BSR -> {
                MemorySegment rowPtr = args.host(Arg.ROW_PTR), colIdx = args.host(Arg.COL_IDX);
                int br = d.blockRows(), bc = d.blockCols();
                for (int blockRow = 0; blockRow < d.m() / br; blockRow++)
                    for (int e = Mem.i32(rowPtr, blockRow); e < Mem.i32(rowPtr, blockRow + 1); e++) {
                        int blockCol = Mem.i32(colIdx, e);
                        for (int i = 0; i < br; i++)
                            for (int j = 0; j < bc; j++)
                                axpy(acc, blockRow * br + i, n, Mem.f(values, ((long) e * br + i) * bc + j), b, blockCol * bc + j);
                    }
            }
            case TWO_FOUR -> {
                MemorySegment meta = args.host(Arg.META);
                int half = d.k() / 2;
                for (int row = 0; row < d.m(); row++)
                    for (int kept = 0; kept < half; kept++) {
                        long e = (long) row * half + kept;
                        int pos = (Mem.u8(meta, e >> 2) >> (2 * (int) (e & 3))) & 3;
                        axpy(acc, row, n, Mem.f(values, e), b, (kept / 2) * 4 + pos);
                    }
            }
        }
        for (int i = 0; i < acc.length; i++) Mem.f(c, i, acc[i]);
    }

    /** acc[row][:] += a * B[col][:]. */
    private static void axpy(double[] acc, int row, int n, double a, MemorySegment b, int col) {
        for (int j = 0; j < n; j++) acc[row * n + j] += a * Mem.f(b, (long) col * n + j);
    }
}
