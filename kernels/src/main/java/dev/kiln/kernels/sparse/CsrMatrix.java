package dev.kiln.kernels.sparse;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * An immutable compressed-sparse-row matrix: f32 values, s32 indices. {@code rowPtr} has rows+1 entries,
 * row r's entries are {@code colIdx/values[rowPtr[r] .. rowPtr[r+1])}, column indices strictly ascending
 * within a row. Built from dense data ({@link #fromDense}), or from a given structure ({@link #of}), which
 * is validated and copied. The accessors return copies; {@link #rowPtrBuffer()} and friends are zero-copy
 * read-only views for {@link dev.kiln.kernels.Kernels#execute}.
 */
public final class CsrMatrix {
    private static final String WHAT = "csr";

    private final int rows, cols;
    private final int[] rowPtr, colIdx;
    private final float[] values;

    private CsrMatrix(int rows, int cols, int[] rowPtr, int[] colIdx, float[] values) {
        this.rows = rows;
        this.cols = cols;
        this.rowPtr = rowPtr;
        this.colIdx = colIdx;
        this.values = values;
    }

    /** A validated copy of the given structure and values (see {@link StructureCheck#compressed}). */
    public static CsrMatrix of(int rows, int cols, int[] rowPtr, int[] colIdx, float[] values) {
        StructureCheck.dims(WHAT, rows, cols);
        StructureCheck.compressed(WHAT, "row", rows, cols, rowPtr, colIdx);
        StructureCheck.notNull(WHAT, "values", values);
        if (values.length != colIdx.length)
            throw new IllegalArgumentException(WHAT + ": values has " + values.length + " entries, colIdx " + colIdx.length + " (must match)");
        return new CsrMatrix(rows, cols, rowPtr.clone(), colIdx.clone(), values.clone());
    }

    /** The entries of row-major {@code dense} whose magnitude is above {@code threshold} (0 keeps every non-zero). */
    public static CsrMatrix fromDense(float[] dense, int rows, int cols, float threshold) {
        StructureCheck.dense(WHAT, dense, rows, cols);
        StructureCheck.threshold(WHAT, threshold);
        boolean[] keep = new boolean[dense.length];
        for (int i = 0; i < dense.length; i++) keep[i] = Math.abs(dense[i]) > threshold || Float.isNaN(dense[i]);
        return build(dense, rows, cols, keep);
    }

    /** The entries of {@code dense} where {@code keep} is true, zeros included (the mask is the structure). */
    public static CsrMatrix fromDense(float[] dense, int rows, int cols, boolean[] keep) {
        StructureCheck.dense(WHAT, dense, rows, cols);
        StructureCheck.mask(WHAT, keep, rows, cols);
        return build(dense, rows, cols, keep);
    }

    private static CsrMatrix build(float[] dense, int rows, int cols, boolean[] keep) {
        int nnz = 0;
        for (boolean k : keep) if (k) nnz++;
        int[] rowPtr = new int[rows + 1], colIdx = new int[nnz];
        float[] values = new float[nnz];
        int e = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                if (keep[i]) { colIdx[e] = c; values[e++] = dense[i]; }
            }
            rowPtr[r + 1] = e;
        }
        return new CsrMatrix(rows, cols, rowPtr, colIdx, values);
    }

    /** The same structure with other values (e.g. an SDDMM output or updated weights); {@code values} is copied. */
    public CsrMatrix withValues(float[] newValues) {
        StructureCheck.notNull(WHAT, "values", newValues);
        if (newValues.length != values.length)
            throw new IllegalArgumentException(WHAT + ": values has " + newValues.length + " entries, the structure has " + values.length);
        return new CsrMatrix(rows, cols, rowPtr, colIdx, newValues.clone());
    }

    /** Row-major rows x cols with the stored values and zeros elsewhere. */
    public float[] toDense() {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++)
            for (int e = rowPtr[r]; e < rowPtr[r + 1]; e++) out[r * cols + colIdx[e]] = values[e];
        return out;
    }

    /** Row-major rows x cols, true where an entry is stored (even if its value is 0). */
    public boolean[] mask() {
        boolean[] out = new boolean[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++)
            for (int e = rowPtr[r]; e < rowPtr[r + 1]; e++) out[r * cols + colIdx[e]] = true;
        return out;
    }

    public int rows() { return rows; }

    public int cols() { return cols; }

    public int nnz() { return values.length; }

    /** Stored fraction of zeros, 1 - nnz/(rows*cols). */
    public double sparsity() { return rows == 0 || cols == 0 ? 0 : 1 - (double) nnz() / ((long) rows * cols); }

    public int[] rowPtr() { return rowPtr.clone(); }

    public int[] colIdx() { return colIdx.clone(); }

    public float[] values() { return values.clone(); }

    public HostBuffer rowPtrBuffer() { return view(MemorySegment.ofArray(rowPtr), DType.S32); }

    public HostBuffer colIdxBuffer() { return view(MemorySegment.ofArray(colIdx), DType.S32); }

    public HostBuffer valuesBuffer() { return view(MemorySegment.ofArray(values), DType.F32); }

    /** Descriptor of C (rows x n) = this * B (cols x n). */
    public SpmmDesc spmmDesc(int n) { return SpmmDesc.csr(rows, n, cols, nnz()); }

    /** ROW_PTR, COL_IDX, VALUES of this matrix plus the dense B and C, for {@link #spmmDesc}. */
    public Args spmmArgs(HostBuffer b, HostBuffer c) {
        return Args.of(Arg.ROW_PTR, rowPtrBuffer(), Arg.COL_IDX, colIdxBuffer(), Arg.VALUES, valuesBuffer()).put(Arg.B, b).put(Arg.C, c);
    }

    static HostBuffer view(MemorySegment seg, DType dtype) { return HostBuffer.wrap(seg.asReadOnly(), dtype); }

    @Override public boolean equals(Object o) {
        return o instanceof CsrMatrix m && rows == m.rows && cols == m.cols && Arrays.equals(rowPtr, m.rowPtr)
                && Arrays.equals(colIdx, m.colIdx) && Arrays.equals(values, m.values);
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(colIdx) + Arrays.hashCode(values) + rows * 7 + cols; }

    @Override public String toString() { return "CsrMatrix[" + rows + "x" + cols + ", nnz=" + nnz() + "]"; }
}
