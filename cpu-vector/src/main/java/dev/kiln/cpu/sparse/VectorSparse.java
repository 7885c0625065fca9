package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;

/**
 * The sparse op families on the CPU, the entry points the CPU device registers: SpMM in CSR ({@link CsrKernel},
 * with a SpMV path for n = 1), BSR ({@link BsrKernel}) and 2:4 ({@link TwoFourKernel}); dense x sparse
 * ({@link DenseSparse}); SDDMM ({@link Sddmm}). Work is split into fixed tasks over {@link CpuThreads} (blocks
 * of rows by blocks of columns, chosen from the shape alone), each output element in exactly one task, so
 * results are bit-identical for any thread count. Index contents are trusted, as everywhere behind the
 * facade; an index out of range fails on the segment's bounds check rather than reading stray memory.
 */
public final class VectorSparse {
    private VectorSparse() {}

    /**
     * Rows of C per SpMM task (a multiple of the 2:4 kernel's four-row group): every row of a task reuses the
     * task's B panel from L2, so more rows means fewer trips to L3 per panel (256 measured ahead of 128).
     */
    private static final int ROWS = 256;
    /** Columns of C per SpMM task: whole two-vector chunks at every width (32 floats at 512 bits). */
    private static final int COLS = 256;

    /** Yes for every sparse descriptor whose operands fit Java arrays (the kernels work on arrays, see {@link HostArrays}). */
    public static Support supports(OpDesc d) {
        if (!(d instanceof SpmmDesc || d instanceof DsmmDesc || d instanceof SddmmDesc)) return Support.no("not a sparse op: " + d.opName());
        for (var spec : d.args())
            if (spec.count() > HostArrays.MAX)
                return Support.no(spec.arg() + " has " + spec.count() + " elements, more than the array kernels take (" + HostArrays.MAX + ")");
        return Support.YES;
    }

    /** Runs a validated sparse descriptor at width {@code w} on host segments. */
    public static void run(Width w, OpDesc desc, Args a) {
        switch (desc) {
            case SpmmDesc d -> spmm(w, d, a);
            case DsmmDesc d -> {
                MemorySegment cSeg = a.host(Arg.C);
                long cCount = (long) d.m() * d.n();
                float[] c = HostArrays.output(cSeg, cCount);
                DenseSparse.run(w, d, HostArrays.floats(a.host(Arg.A), (long) d.m() * d.k()), HostArrays.ints(a.host(Arg.ROW_PTR), d.sparseRows() + 1L),
                        HostArrays.ints(a.host(Arg.COL_IDX), d.nnz()), HostArrays.floats(a.host(Arg.VALUES), d.nnz()), c);
                HostArrays.writeBack(c, cSeg, cCount);
            }
            case SddmmDesc d -> {
                MemorySegment vSeg = a.host(Arg.VALUES);
                float[] v = HostArrays.output(vSeg, d.nnz());
                Sddmm.run(w, d, HostArrays.floats(a.host(Arg.A), (long) d.m() * d.k()), HostArrays.floats(a.host(Arg.B), (long) d.n() * d.k()),
                        HostArrays.ints(a.host(Arg.ROW_PTR), d.m() + 1L), HostArrays.ints(a.host(Arg.COL_IDX), d.nnz()), v);
                HostArrays.writeBack(v, vSeg, d.nnz());
            }
            default -> throw new IllegalArgumentException(desc.opName() + ": not a sparse op");
        }
    }

    private static void spmm(Width w, SpmmDesc d, Args a) {
        int m = d.m(), n = d.n(), k = d.k();
        float[] values = HostArrays.floats(a.host(Arg.VALUES), d.valueCount()), b = HostArrays.floats(a.host(Arg.B), (long) k * n);
        MemorySegment cSeg = a.host(Arg.C);
        long cCount = (long) m * n;
        float[] c = HostArrays.output(cSeg, cCount);
        switch (d.format()) {
            case CSR -> {
                int[] rowPtr = HostArrays.ints(a.host(Arg.ROW_PTR), m + 1L), colIdx = HostArrays.ints(a.host(Arg.COL_IDX), d.nnz());
                if (n == 1)
                    CpuThreads.parallelFor(blocks(m, 4 * ROWS), t -> CsrKernel.spmv(rowPtr, colIdx, values, b, c, t * 4 * ROWS,
                            Math.min(m, (t + 1) * 4 * ROWS)));
                else tiles(m, n, ROWS, (r0, r1, j0, j1) -> CsrKernel.rows(w, rowPtr, colIdx, values, b, n, k, c, n, 0, r0, r1, j0, j1));
            }
            case BSR -> {
                int br = d.blockRows(), bc = d.blockCols();
                int[] rowPtr = HostArrays.ints(a.host(Arg.ROW_PTR), m / br + 1L), colIdx = HostArrays.ints(a.host(Arg.COL_IDX), d.nnz());
                tiles(m / br, n, Math.max(1, ROWS / br), (r0, r1, j0, j1) ->
                        BsrKernel.blockRows(w, br, bc, rowPtr, colIdx, values, b, n, c, n, r0, r1, j0, j1));
            }
            case TWO_FOUR -> {
                byte[] meta = HostArrays.bytes(a.host(Arg.META), d.spec(Arg.META).count());
                tiles(m, n, ROWS, (r0, r1, j0, j1) -> TwoFourKernel.rows(w, k, values, meta, b, n, c, n, r0, r1, j0, j1));
            }
        }
        HostArrays.writeBack(c, cSeg, cCount);
    }

    private interface Tile {
        void run(int r0, int r1, int j0, int j1);
    }

    private static int blocks(int size, int block) { return (size + block - 1) / block; }

    /** Fixed tasks of {@code rowsPerTask} rows by {@link #COLS} columns, column blocks outermost (tasks running together share B). */
    private static void tiles(int rows, int n, int rowsPerTask, Tile tile) {
        int rowBlocks = blocks(rows, rowsPerTask), colBlocks = blocks(n, COLS);
        CpuThreads.parallelFor(rowBlocks * colBlocks, t -> {
            int r0 = (t % rowBlocks) * rowsPerTask, j0 = (t / rowBlocks) * COLS;
            tile.run(r0, Math.min(rows, r0 + rowsPerTask), j0, Math.min(n, j0 + COLS));
        });
    }
}
