package dev.kiln.kernels.sparse;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * An immutable block-sparse-row matrix of blockRows x blockCols dense blocks (rows and cols multiples of
 * the block). {@code rowPtr} has rows/blockRows+1 entries over the stored blocks, {@code colIdx} holds
 * each block's block column (strictly ascending within a block row), {@code values} the blocks one after
 * another, each row-major. A block is stored when any of its elements is kept; its other elements are 0.
 */
public final class BsrMatrix {
    private static final String WHAT = "bsr";

    private final int rows, cols, blockRows, blockCols;
    private final int[] rowPtr, colIdx;
    private final float[] values;

    private BsrMatrix(int rows, int cols, int blockRows, int blockCols, int[] rowPtr, int[] colIdx, float[] values) {
        this.rows = rows;
        this.cols = cols;
        this.blockRows = blockRows;
        this.blockCols = blockCols;
        this.rowPtr = rowPtr;
        this.colIdx = colIdx;
        this.values = values;
    }

    private static void block(int rows, int cols, int blockRows, int blockCols) {
        StructureCheck.dims(WHAT, rows, cols);
        if (blockRows <= 0 || blockCols <= 0)
            throw new IllegalArgumentException(WHAT + ": block must be at least 1x1, got " + blockRows + "x" + blockCols);
        if (rows % blockRows != 0 || cols % blockCols != 0)
            throw new IllegalArgumentException(WHAT + ": " + rows + "x" + cols + " is not a multiple of the block " + blockRows + "x" + blockCols);
    }

    /** A validated copy of a given structure: block row pointers, block column indices, row-major blocks. */
    public static BsrMatrix of(int rows, int cols, int blockRows, int blockCols, int[] rowPtr, int[] colIdx, float[] values) {
        block(rows, cols, blockRows, blockCols);
        StructureCheck.compressed(WHAT, "block row", rows / blockRows, cols / blockCols, rowPtr, colIdx);
        StructureCheck.notNull(WHAT, "values", values);
        long expected = (long) colIdx.length * blockRows * blockCols;
        if (values.length != expected)
            throw new IllegalArgumentException(WHAT + ": values has " + values.length + " entries, expected blocks*" + blockRows + "*" + blockCols
                    + "=" + expected);
        return new BsrMatrix(rows, cols, blockRows, blockCols, rowPtr.clone(), colIdx.clone(), values.clone());
    }

    /** The blocks of {@code dense} holding at least one element of magnitude above {@code threshold}. */
    public static BsrMatrix fromDense(float[] dense, int rows, int cols, int blockRows, int blockCols, float threshold) {
        StructureCheck.dense(WHAT, dense, rows, cols);
        block(rows, cols, blockRows, blockCols);
        StructureCheck.threshold(WHAT, threshold);
        boolean[] keep = new boolean[dense.length];
        for (int i = 0; i < dense.length; i++) keep[i] = Math.abs(dense[i]) > threshold || Float.isNaN(dense[i]);
        return build(dense, rows, cols, blockRows, blockCols, keep);
    }

    /** The blocks of {@code dense} with at least one kept element; elements not kept are stored as 0. */
    public static BsrMatrix fromDense(float[] dense, int rows, int cols, int blockRows, int blockCols, boolean[] keep) {
        StructureCheck.dense(WHAT, dense, rows, cols);
        block(rows, cols, blockRows, blockCols);
        StructureCheck.mask(WHAT, keep, rows, cols);
        return build(dense, rows, cols, blockRows, blockCols, keep);
    }

    private static BsrMatrix build(float[] dense, int rows, int cols, int br, int bc, boolean[] keep) {
        int blockRowCount = rows / br, blockColCount = cols / bc;
        int[] rowPtr = new int[blockRowCount + 1];
        int[] colIdx = new int[blockRowCount * blockColCount];
        float[] values = new float[Math.multiplyExact(colIdx.length, br * bc)];
        int blocks = 0;
        for (int R = 0; R < blockRowCount; R++) {
            for (int C = 0; C < blockColCount; C++) {
                boolean any = false;
                for (int i = 0; i < br && !any; i++)
                    for (int j = 0; j < bc && !any; j++) any = keep[(R * br + i) * cols + C * bc + j];
                if (!any) continue;
                for (int i = 0; i < br; i++)
                    for (int j = 0; j < bc; j++) {
                        int src = (R * br + i) * cols + C * bc + j;
                        values[(blocks * br + i) * bc + j] = keep[src] ? dense[src] : 0f;
                    }
                colIdx[blocks++] = C;
            }
            rowPtr[R + 1] = blocks;
        }
        return new BsrMatrix(rows, cols, br, bc, rowPtr, Arrays.copyOf(colIdx, blocks), Arrays.copyOf(values, blocks * br * bc));
    }

    /** Row-major rows x cols with the stored blocks and zeros elsewhere. */
    public float[] toDense() {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int R = 0; R < rows / blockRows; R++)
            for (int e = rowPtr[R]; e < rowPtr[R + 1]; e++)
                for (int i = 0; i < blockRows; i++)
                    System.arraycopy(values, (e * blockRows + i) * blockCols, out, (R * blockRows + i) * cols + colIdx[e] * blockCols, blockCols);
        return out;
    }

    /** Row-major rows x cols, true over every stored block. */
    public boolean[] mask() {
        boolean[] out = new boolean[Math.multiplyExact(rows, cols)];
        for (int R = 0; R < rows / blockRows; R++)
            for (int e = rowPtr[R]; e < rowPtr[R + 1]; e++)
                for (int i = 0; i < blockRows; i++)
                    Arrays.fill(out, (R * blockRows + i) * cols + colIdx[e] * blockCols, (R * blockRows + i) * cols + (colIdx[e] + 1) * blockCols, true);
        return out;
    }

    public int rows() { return rows; }

    public int cols() { return cols; }

    public int blockRows() { return blockRows; }

    public int blockCols() { return blockCols; }

    /** Stored blocks. */
    public int blocks() { return colIdx.length; }

    /** Fraction of the matrix outside stored blocks. */
    public double sparsity() { return rows == 0 || cols == 0 ? 0 : 1 - (double) values.length / ((long) rows * cols); }

    public int[] rowPtr() { return rowPtr.clone(); }

    public int[] colIdx() { return colIdx.clone(); }

    public float[] values() { return values.clone(); }

    public HostBuffer rowPtrBuffer() { return CsrMatrix.view(MemorySegment.ofArray(rowPtr), DType.S32); }

    public HostBuffer colIdxBuffer() { return CsrMatrix.view(MemorySegment.ofArray(colIdx), DType.S32); }

    public HostBuffer valuesBuffer() { return CsrMatrix.view(MemorySegment.ofArray(values), DType.F32); }

    /** Descriptor of C (rows x n) = this * B (cols x n). */
    public SpmmDesc spmmDesc(int n) { return SpmmDesc.bsr(rows, n, cols, blocks(), blockRows, blockCols); }

    public Args spmmArgs(HostBuffer b, HostBuffer c) {
        return Args.of(Arg.ROW_PTR, rowPtrBuffer(), Arg.COL_IDX, colIdxBuffer(), Arg.VALUES, valuesBuffer()).put(Arg.B, b).put(Arg.C, c);
    }

    @Override public boolean equals(Object o) {
        return o instanceof BsrMatrix m && rows == m.rows && cols == m.cols && blockRows == m.blockRows && blockCols == m.blockCols
                && Arrays.equals(rowPtr, m.rowPtr) && Arrays.equals(colIdx, m.colIdx) && Arrays.equals(values, m.values);
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(colIdx) + Arrays.hashCode(values) + rows * 7 + cols; }

    @Override public String toString() {
        return "BsrMatrix[" + rows + "x" + cols + ", block " + blockRows + "x" + blockCols + ", blocks=" + blocks() + "]";
    }
}
