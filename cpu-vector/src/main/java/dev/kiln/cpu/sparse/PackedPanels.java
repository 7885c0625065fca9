package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The dense B of an SpMM (k x n, row-major) repacked as column panels: panel p holds columns
 * [p W, p W + W) of every row of B contiguously (row r at {@code base(p) + r W}), zeros past n, with W a few
 * vectors of the width (as many as the kernel keeps accumulators for). Why: the sparse kernels gather B rows
 * by index; in the original layout consecutive rows of a panel lie n floats apart, one 4 KB page per few
 * rows, so a random gather misses the TLB on almost every row (B is 4 MB on the benchmark shape), and a
 * k-block of rows cannot be kept in L1 as one piece. Packed, a block of rows is one contiguous run (32 rows
 * of 256 floats: 32 KB, 8 pages). Built once per call, straight from the operand's segment, so B is also
 * never copied into a whole-matrix array.
 */
final class PackedPanels {
    /** Floats per panel row: a whole number of vectors. */
    final int width;
    /** Rows of B. */
    final int k;
    /** Number of panels: ceil(n / width). */
    final int panels;
    final float[] data;

    private PackedPanels(int width, int k, int panels) {
        this.width = width;
        this.k = k;
        this.panels = panels;
        this.data = PACKED.get(Math.addExact(Math.multiplyExact(Math.multiplyExact(width, k), panels), ALIGN));
    }

    /** The calling thread's packed B, reused from call to call (see {@link Scratch}). */
    private static final Scratch.Floats PACKED = new Scratch.Floats();

    /**
     * Where panel data starts in {@link #data}: 12 floats past a 16-byte array header is a 64-byte line, where
     * large arrays (which start on a heap region) begin, so no vector load of B straddles two lines. Speed only:
     * any placement gives the same results.
     */
    private static final int ALIGN = 12;

    /** Index of row 0 of panel p. */
    int base(int p) { return ALIGN + p * k * width; }

    /** Columns of panel p that exist in B (width, or fewer in the last panel). */
    int columns(int p, int n) { return Math.min(width, n - p * width); }

    /** Packs B (k x n floats in {@code b}) into panels of {@code vectors} vectors, one task per panel. */
    static PackedPanels pack(Width w, int vectors, MemorySegment b, int k, int n) {
        int width = vectors * w.floats().length();
        PackedPanels pp = new PackedPanels(width, k, (n + width - 1) / width);
        CpuThreads.parallelFor(pp.panels, p -> {
            int cols = pp.columns(p, n), at = pp.base(p);
            long from = (long) p * width * Float.BYTES;
            for (int r = 0; r < k; r++, at += width, from += (long) n * Float.BYTES)
                MemorySegment.copy(b, ValueLayout.JAVA_FLOAT_UNALIGNED, from, pp.data, at, cols);
        });
        pp.zeroTail(n);
        return pp;
    }

    /** Writes rows [0, rows) of a tile (row stride width: panel p's columns of C rows r0..) into C (m x n floats in {@code c}). */
    static void writeTile(float[] tile, int width, MemorySegment c, int n, int r0, int rows, int p) {
        int cols = Math.min(width, n - p * width);
        long to = ((long) r0 * n + (long) p * width) * Float.BYTES;
        for (int i = 0; i < rows; i++, to += (long) n * Float.BYTES)
            MemorySegment.copy(tile, i * width, c, ValueLayout.JAVA_FLOAT_UNALIGNED, to, cols);
    }

    /** Zeros past n in the last panel (the scratch array may hold an earlier call's data there). */
    private void zeroTail(int n) {
        int cols = columns(panels - 1, n);
        if (cols == width) return;
        for (int r = 0, at = base(panels - 1) + cols; r < k; r++, at += width) java.util.Arrays.fill(data, at, at + width - cols, 0f);
    }
}
