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
import java.lang.foreign.ValueLayout;

/**
 * The sparse op families on the CPU, the entry points the CPU device registers: SpMM in CSR ({@link CsrKernel},
 * with a SpMV path for n = 1), BSR ({@link BsrKernel}) and 2:4 ({@link TwoFourKernel}); dense x sparse
 * ({@link DenseSparse}); SDDMM ({@link Sddmm}). SpMM (n > 1) runs on B repacked into column panels
 * ({@link PackedPanels}), each task computing its rows into a tile that is written straight into C. Work is
 * split into fixed tasks over {@link CpuThreads} (blocks of rows, or of rows by columns, chosen from the shape
 * alone), each output element in exactly one task, so results are bit-identical for any thread count. Index
 * contents are trusted, as everywhere behind the facade; an index out of range fails on an array's or the
 * segment's bounds check rather than reading stray memory.
 */
public final class VectorSparse {
    private VectorSparse() {}

    /**
     * Rows of C per BSR task and per SpMV task (times four): every row of a task reuses the task's B panel from
     * L2, so more rows means fewer trips to L3 per panel.
     */
    private static final int ROWS = 256;
    /**
     * Rows of C per CSR / 2:4 task: each task reads all of the packed B once per call, so more rows means less
     * B traffic, while the task's copy of its sparse rows (128 x 2048 values of a 2:4 row set: 1 MB) should
     * stay near the core while it goes past every panel (128 measured ahead of 64 and 256 for CSR, even for 2:4).
     */
    private static final int PACKED_ROWS = 128;

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
                DenseSparse.run(w, d, HostArrays.floats(a.host(Arg.A), (long) d.m() * d.k(), DENSE_A),
                        HostArrays.ints(a.host(Arg.ROW_PTR), d.sparseRows() + 1L),
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
        MemorySegment cSeg = a.host(Arg.C), vSeg = a.host(Arg.VALUES);
        switch (d.format()) {
            case CSR -> {
                int[] rowPtr = HostArrays.ints(a.host(Arg.ROW_PTR), m + 1L);
                if (n == 1) {
                    int[] colIdx = HostArrays.ints(a.host(Arg.COL_IDX), d.nnz());
                    float[] values = HostArrays.floats(vSeg, d.nnz());
                    float[] b = HostArrays.floats(a.host(Arg.B), k), c = HostArrays.output(cSeg, m);
                    CpuThreads.parallelFor(blocks(m, 4 * ROWS), t -> CsrKernel.spmv(rowPtr, colIdx, values, b, c, t * 4 * ROWS,
                            Math.min(m, (t + 1) * 4 * ROWS)));
                    HostArrays.writeBack(c, cSeg, m);
                    return;
                }
                int kb = CsrKernel.blockRows(m, k, d.nnz());
                MemorySegment iSeg = a.host(Arg.COL_IDX);
                PackedPanels bp = PackedPanels.pack(w, CsrKernel.vectors(w, n), a.host(Arg.B), k, n);
                packedTasks(m, n, bp, cSeg, (r0, r1) -> {
                    int e0 = rowPtr[r0], count = rowPtr[r1] - e0;
                    int[] colIdx = TASK_INTS.get(count);
                    float[] values = TASK_FLOATS.get(count);
                    MemorySegment.copy(iSeg, ValueLayout.JAVA_INT_UNALIGNED, (long) e0 * Integer.BYTES, colIdx, 0, count);
                    MemorySegment.copy(vSeg, ValueLayout.JAVA_FLOAT_UNALIGNED, (long) e0 * Float.BYTES, values, 0, count);
                    int[] split = CsrKernel.splits(rowPtr, colIdx, e0, k, kb, r0, r1);
                    return (p, tile) -> CsrKernel.panelRows(w, colIdx, values, bp, p, kb, split, tile, r0, r1);
                });
            }
            case BSR -> {
                int br = d.blockRows(), bc = d.blockCols();
                int[] rowPtr = HostArrays.ints(a.host(Arg.ROW_PTR), m / br + 1L), colIdx = HostArrays.ints(a.host(Arg.COL_IDX), d.nnz());
                float[] values = HostArrays.floats(vSeg, d.valueCount(), BSR_VALUES);
                PackedPanels bp = PackedPanels.pack(w, BsrKernel.VECTORS, a.host(Arg.B), k, n);
                int blockRowsPerTask = Math.max(1, ROWS / br);
                packedTasks(m / br, n, blockRowsPerTask, br, bp, cSeg, (R0, R1) -> (p, tile) ->
                        BsrKernel.blockRows(w, br, bc, rowPtr, colIdx, values, bp, p, tile, R0, R1));
            }
            case TWO_FOUR -> {
                MemorySegment mSeg = a.host(Arg.META);
                PackedPanels bp = PackedPanels.pack(w, TwoFourKernel.vectors(w, n), a.host(Arg.B), k, n);
                long half = k / 2;
                packedTasks(m, n, bp, cSeg, (r0, r1) -> {
                    // the task's values and META (from a multiple of four values, so nibbles keep their place)
                    int eBase = (int) (r0 * half & ~3L), count = (int) (r1 * half - eBase);
                    float[] values = TASK_FLOATS.get(count);
                    int metaBytes = (count + 3) / 4;
                    byte[] meta = TASK_BYTES.get(metaBytes);
                    MemorySegment.copy(vSeg, ValueLayout.JAVA_FLOAT_UNALIGNED, (long) eBase * Float.BYTES, values, 0, count);
                    MemorySegment.copy(mSeg, ValueLayout.JAVA_BYTE, eBase / 4, meta, 0, metaBytes);
                    return (p, tile) -> TwoFourKernel.rows(w, k, values, meta, eBase, bp, p, tile, r0, r1);
                });
            }
        }
    }

    /** A task's copy of its sparse rows and its C tile, per thread (see {@link Scratch}). */
    private static final Scratch.Floats TASK_FLOATS = new Scratch.Floats(), TILE = new Scratch.Floats();
    private static final Scratch.Ints TASK_INTS = new Scratch.Ints();
    /** The calling thread's copy of native BSR values (up to the whole matrix: no new array per call). */
    private static final Scratch.Floats BSR_VALUES = new Scratch.Floats();
    private static final Scratch.Bytes TASK_BYTES = new Scratch.Bytes();
    /**
     * The calling thread's copy of a native dense A for dense x sparse (a Linear layer's input: a new array per call
     * was zeroed, then overwritten; the pool threads only read it while the caller waits).
     */
    private static final Scratch.Floats DENSE_A = new Scratch.Floats();

    /** One task's work on one panel of the packed B, into the task's tile. */
    private interface PanelWork {
        void run(int panel, float[] tile);
    }

    /** Per-task set-up (once for all panels) returning the panel work of rows [r0, r1). */
    private interface RowTask {
        PanelWork prepare(int r0, int r1);
    }

    /**
     * Fixed tasks of {@link #PACKED_ROWS} rows, each over every panel of B in order: the task's rows are computed
     * into a tile (rows x panel width, in L2) and the tile's valid columns written to C, so C is written once,
     * straight into its segment. The split depends on the shape only.
     */
    private static void packedTasks(int m, int n, PackedPanels bp, MemorySegment cSeg, RowTask task) {
        packedTasks(m, n, PACKED_ROWS, 1, bp, cSeg, task);
    }

    /**
     * As above over {@code units} of {@code unitRows} rows of C each (block rows for BSR), {@code perTask} units per task.
     * A short S (a convolution's 64 output channels: one block of rows) would be one task on one thread, so when there
     * are fewer than {@link #MIN_TASKS} row blocks each is split further into runs of panels, each task repeating the
     * row block's set-up (cheap beside its panels' work). Each panel of each row is still computed by one task alone.
     */
    private static void packedTasks(int units, int n, int perTask, int unitRows, PackedPanels bp, MemorySegment cSeg, RowTask task) {
        int rowTasks = blocks(units, perTask), groups = Math.max(1, Math.min(bp.panels, MIN_TASKS / Math.max(1, rowTasks)));
        CpuThreads.parallelFor(rowTasks * groups, t -> {
            int u0 = (t / groups) * perTask, u1 = Math.min(units, u0 + perTask), rows = (u1 - u0) * unitRows, g = t % groups;
            float[] tile = TILE.get(rows * bp.width);
            PanelWork work = task.prepare(u0, u1);
            for (int p = (int) ((long) g * bp.panels / groups), end = (int) ((long) (g + 1) * bp.panels / groups); p < end; p++) {
                work.run(p, tile);
                PackedPanels.writeTile(tile, bp.width, cSeg, n, u0 * unitRows, rows, p);
            }
        });
    }

    /** Fewest tasks a packed SpMM is split into when B has the panels for it (from the shape alone, not the thread count). */
    private static final int MIN_TASKS = 8;

    private static int blocks(int size, int block) { return (size + block - 1) / block; }
}
