package dev.kiln.kernels.sparse;

/**
 * Validation of a given sparse structure, shared by the formats: every failure is an
 * {@link IllegalArgumentException} naming the format, the row (or block row) and the position in the
 * index array, so a malformed matrix from a file or another library is pointed at, not just refused.
 */
final class StructureCheck {
    private StructureCheck() {}

    static void dims(String what, int rows, int cols) {
        if (rows < 0 || cols < 0) throw new IllegalArgumentException(what + ": dimensions must be >= 0, got " + rows + "x" + cols);
    }

    static void notNull(String what, String name, Object array) {
        if (array == null) throw new IllegalArgumentException(what + ": " + name + " is null");
    }

    /** Dense input of rows*cols elements (row-major). */
    static void dense(String what, float[] dense, int rows, int cols) {
        notNull(what, "dense", dense);
        dims(what, rows, cols);
        if ((long) rows * cols != dense.length)
            throw new IllegalArgumentException(what + ": dense array has " + dense.length + " elements, expected rows*cols="
                    + (long) rows * cols + " (" + rows + "x" + cols + ")");
    }

    static void mask(String what, boolean[] keep, int rows, int cols) {
        notNull(what, "mask", keep);
        if ((long) rows * cols != keep.length)
            throw new IllegalArgumentException(what + ": mask has " + keep.length + " elements, expected rows*cols=" + (long) rows * cols);
    }

    static void threshold(String what, float threshold) {
        if (!(threshold >= 0)) throw new IllegalArgumentException(what + ": threshold must be >= 0 and not NaN, got " + threshold);
    }

    /**
     * ROW_PTR of {@code rows+1} entries starting at 0, non-decreasing, ending at {@code colIdx.length};
     * COL_IDX strictly ascending within each row and in [0, cols).
     */
    static void compressed(String what, String rowName, int rows, int cols, int[] rowPtr, int[] colIdx) {
        notNull(what, "rowPtr", rowPtr);
        notNull(what, "colIdx", colIdx);
        if (rowPtr.length != rows + 1)
            throw new IllegalArgumentException(what + ": rowPtr has " + rowPtr.length + " entries, expected " + rowName + "s+1=" + (rows + 1L));
        if (rowPtr[0] != 0) throw new IllegalArgumentException(what + ": rowPtr[0] must be 0, got " + rowPtr[0]);
        for (int r = 0; r < rows; r++) {
            int start = rowPtr[r], end = rowPtr[r + 1];
            if (end < start)
                throw new IllegalArgumentException(what + ": " + rowName + " " + r + ": rowPtr[" + (r + 1) + "]=" + end
                        + " is below rowPtr[" + r + "]=" + start + " (row pointers must not decrease)");
            if (end > colIdx.length)
                throw new IllegalArgumentException(what + ": " + rowName + " " + r + ": rowPtr[" + (r + 1) + "]=" + end
                        + " is past the " + colIdx.length + " column indices");
            for (int e = start; e < end; e++) {
                int c = colIdx[e];
                if (c < 0 || c >= cols)
                    throw new IllegalArgumentException(what + ": " + rowName + " " + r + ", position " + e + ": column index " + c
                            + " is outside [0, " + cols + ")");
                if (e > start && c <= colIdx[e - 1])
                    throw new IllegalArgumentException(what + ": " + rowName + " " + r + ", position " + e + ": column index " + c
                            + " does not ascend (previous " + colIdx[e - 1] + "; indices must be sorted and distinct)");
            }
        }
        if (rowPtr[rows] != colIdx.length)
            throw new IllegalArgumentException(what + ": rowPtr[" + rows + "]=" + rowPtr[rows] + " must equal the number of column indices "
                    + colIdx.length);
    }
}
