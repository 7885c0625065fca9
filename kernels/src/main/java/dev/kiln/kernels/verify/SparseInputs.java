package dev.kiln.kernels.verify;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random sparse structures for {@link SpmmDesc}: exactly {@code nnz} entries (or blocks) at uniformly
 * random distinct positions, so rows without entries occur naturally at low density; column indices
 * ascend within each row. 2:4 metadata keeps two distinct ascending positions of each group of four.
 */
final class SparseInputs {
    private SparseInputs() {}

    static void fill(SpmmDesc d, Map<Arg, HostBuffer> in, SplittableRandom rnd) {
        switch (d.format()) {
            case CSR -> structure(d.m(), d.k(), d.nnz(), in, rnd);
            case BSR -> structure(d.m() / d.blockRows(), d.k() / d.blockCols(), d.nnz(), in, rnd);
            case TWO_FOUR -> twoFour(d, in.get(Arg.META).hostSegment(), rnd);
        }
    }

    /** ROW_PTR and COL_IDX of {@code nnz} entries among rows x cols, by selection sampling (already sorted). */
    static void structure(int rows, int cols, int nnz, Map<Arg, HostBuffer> in, SplittableRandom rnd) {
        MemorySegment rowPtr = in.get(Arg.ROW_PTR).hostSegment(), colIdx = in.get(Arg.COL_IDX).hostSegment();
        long total = (long) rows * cols, needed = nnz;
        int e = 0;
        rowPtr.setAtIndex(ValueLayout.JAVA_INT, 0, 0);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                long left = total - ((long) r * cols + c);
                if (needed > 0 && rnd.nextLong(left) < needed) {
                    colIdx.setAtIndex(ValueLayout.JAVA_INT, e++, c);
                    needed--;
                }
            }
            rowPtr.setAtIndex(ValueLayout.JAVA_INT, r + 1, e);
        }
        assert e == nnz : "selection sampling chose " + e + " of " + nnz;
    }

    private static final int[][] PAIRS = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};

    private static void twoFour(SpmmDesc d, MemorySegment meta, SplittableRandom rnd) {
        meta.fill((byte) 0);
        long kept = (long) d.m() * d.k() / 2;
        for (long g = 0; g < kept / 2; g++) {
            int[] pair = PAIRS[rnd.nextInt(PAIRS.length)];
            for (int j = 0; j < 2; j++) {
                long idx = 2 * g + j;
                byte old = meta.get(ValueLayout.JAVA_BYTE, idx >> 2);
                meta.set(ValueLayout.JAVA_BYTE, idx >> 2, (byte) (old | pair[j] << (2 * (idx & 3))));
            }
        }
    }
}
