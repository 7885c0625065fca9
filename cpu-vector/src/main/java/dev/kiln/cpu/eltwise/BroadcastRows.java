package dev.kiln.cpu.eltwise;

import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.spi.BroadcastFold;

/**
 * A broadcasting binary op seen as rows: the folded result ({@link BroadcastFold}) is {@code rows x n}, with
 * {@code n} its innermost folded extent. Along a row each operand is either contiguous ({@code aRow}/{@code
 * bRow}: element stride 1) or one repeated value (stride 0); folding guarantees no other stride there, and at
 * least one of the two is contiguous unless the result has a single element. A row's start in each operand
 * comes from its index spelled out over the outer folded dimensions, kept up to date by a {@link Walker}.
 *
 * @param n      row length
 * @param outer  the outer folded extents, outermost first (empty: one row)
 * @param sa     the first operand's element strides along {@code outer}
 * @param sb     the second operand's
 * @param aRow   whether the first operand steps along a row
 * @param bRow   whether the second does
 */
record BroadcastRows(int n, int[] outer, long[] sa, long[] sb, boolean aRow, boolean bRow) {

    static BroadcastRows of(BinaryDesc d) {
        BroadcastFold f = BroadcastFold.of(d);
        int rank = f.dims().length;
        if (rank == 0) return new BroadcastRows(1, new int[0], new long[0], new long[0], false, false);
        int last = rank - 1;
        return new BroadcastRows(f.dims()[last], java.util.Arrays.copyOf(f.dims(), last),
                java.util.Arrays.copyOf(f.sa(), last), java.util.Arrays.copyOf(f.sb(), last), f.sa()[last] != 0, f.sb()[last] != 0);
    }

    /**
     * Walks rows over a subset of the outer dimensions in row-major order, keeping three running offsets (result
     * row index, SRC element, SRC2 element) so that stepping to the next row costs additions, not divisions (which
     * dominated rows of a few hundred elements). One per task (it is mutable).
     */
    static final class Walker {
        private final int[] dims;
        private final long[] stepRow, stepA, stepB;
        private final int[] digit;
        long row, a, b;

        /** Over the outer dimensions at positions {@code at} of {@code r} (any subset, outermost first). */
        Walker(BroadcastRows r, int[] at) {
            int k = at.length;
            dims = new int[k];
            stepRow = new long[k];
            stepA = new long[k];
            stepB = new long[k];
            digit = new int[k];
            long place = 1;
            long[] places = new long[r.outer.length];
            for (int j = r.outer.length - 1; j >= 0; j--) { places[j] = place; place *= r.outer[j]; }
            for (int i = 0; i < k; i++) {
                dims[i] = r.outer[at[i]];
                stepRow[i] = places[at[i]];
                stepA[i] = r.sa[at[i]];
                stepB[i] = r.sb[at[i]];
            }
        }

        /** Positions to the {@code index}-th row of the walk. */
        void seek(long index) {
            row = a = b = 0;
            for (int i = dims.length - 1; i >= 0; i--) {
                digit[i] = (int) (index % dims[i]);
                index /= dims[i];
                row += digit[i] * stepRow[i];
                a += digit[i] * stepA[i];
                b += digit[i] * stepB[i];
            }
        }

        /** Steps to the next row (after the last one it wraps to the first). */
        void next() {
            for (int i = dims.length - 1; i >= 0; i--) {
                row += stepRow[i];
                a += stepA[i];
                b += stepB[i];
                if (++digit[i] < dims[i]) return;
                digit[i] = 0;
                row -= stepRow[i] * dims[i];
                a -= stepA[i] * dims[i];
                b -= stepB[i] * dims[i];
            }
        }
    }

    /** Positions 0 .. outer.length-1. */
    int[] allDims() {
        int[] at = new int[outer.length];
        for (int i = 0; i < at.length; i++) at[i] = i;
        return at;
    }
}
