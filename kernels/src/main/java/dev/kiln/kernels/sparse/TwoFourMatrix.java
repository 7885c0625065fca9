package dev.kiln.kernels.sparse;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * An immutable 2:4 structured-sparse matrix (cols a multiple of 4): two kept values per group of four
 * along each row. {@code values} has rows*cols/2 entries in row order; kept value e has its 2-bit
 * position in its group in {@code meta} byte e/4, bits 2*(e%4), low bits first; the two positions of a
 * group ascend (the layout of {@link SpmmDesc.SparseFormat#TWO_FOUR}).
 */
public final class TwoFourMatrix {
    private static final String WHAT = "2:4";

    private final int rows, cols;
    private final float[] values;
    private final byte[] meta;

    private TwoFourMatrix(int rows, int cols, float[] values, byte[] meta) {
        this.rows = rows;
        this.cols = cols;
        this.values = values;
        this.meta = meta;
    }

    private static void dims(int rows, int cols) {
        StructureCheck.dims(WHAT, rows, cols);
        if (cols % 4 != 0) throw new IllegalArgumentException(WHAT + ": cols=" + cols + " must be a multiple of 4");
    }

    /** Bytes of metadata for {@code kept} values: 2 bits each, rounded up. */
    public static int metaBytes(long kept) { return Math.toIntExact((kept + 3) / 4); }

    /** A validated copy: rows*cols/2 values and meta positions ascending within each group. */
    public static TwoFourMatrix of(int rows, int cols, float[] values, byte[] meta) {
        dims(rows, cols);
        StructureCheck.notNull(WHAT, "values", values);
        StructureCheck.notNull(WHAT, "meta", meta);
        long kept = (long) rows * cols / 2;
        if (values.length != kept)
            throw new IllegalArgumentException(WHAT + ": values has " + values.length + " entries, expected rows*cols/2=" + kept);
        if (meta.length != metaBytes(kept))
            throw new IllegalArgumentException(WHAT + ": meta has " + meta.length + " bytes, expected ceil(rows*cols/8)=" + metaBytes(kept));
        int half = cols / 2;
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < cols / 4; g++) {
                long e = (long) r * half + 2L * g;
                int p0 = position(meta, e), p1 = position(meta, e + 1);
                if (p0 >= p1)
                    throw new IllegalArgumentException(WHAT + ": row " + r + ", group " + g + " (columns " + 4 * g + ".." + (4 * g + 3)
                            + ", value position " + e + "): meta positions " + p0 + "," + p1 + " must ascend");
            }
        return new TwoFourMatrix(rows, cols, values.clone(), meta.clone());
    }

    /** Keeps the two largest magnitudes of each group of four (the earlier column on ties), in place order. */
    public static TwoFourMatrix fromDense(float[] dense, int rows, int cols) {
        StructureCheck.dense(WHAT, dense, rows, cols);
        dims(rows, cols);
        boolean[] keep = new boolean[dense.length];
        for (int g = 0; g < dense.length; g += 4) {
            int first = -1, second = -1;
            for (int j = 0; j < 4; j++) {
                float a = Math.abs(dense[g + j]);
                if (first < 0 || a > Math.abs(dense[g + first])) { second = first; first = j; }
                else if (second < 0 || a > Math.abs(dense[g + second])) second = j;
            }
            keep[g + first] = true;
            keep[g + second] = true;
        }
        return build(dense, rows, cols, keep);
    }

    /**
     * The elements of {@code dense} where {@code keep} is true; each group of four may keep at most two.
     * A group keeping fewer is filled up with its lowest free positions, stored as 0.
     */
    public static TwoFourMatrix fromDense(float[] dense, int rows, int cols, boolean[] keep) {
        StructureCheck.dense(WHAT, dense, rows, cols);
        dims(rows, cols);
        StructureCheck.mask(WHAT, keep, rows, cols);
        for (int g = 0; g < dense.length; g += 4) {
            int count = 0;
            for (int j = 0; j < 4; j++) if (keep[g + j]) count++;
            if (count > 2)
                throw new IllegalArgumentException(WHAT + ": row " + g / cols + ", group " + (g % cols) / 4 + " keeps " + count
                        + " of 4 (at most 2)");
        }
        return build(dense, rows, cols, keep);
    }

    private static TwoFourMatrix build(float[] dense, int rows, int cols, boolean[] keep) {
        long kept = (long) rows * cols / 2;
        float[] values = new float[Math.toIntExact(kept)];
        byte[] meta = new byte[metaBytes(kept)];
        int e = 0;
        for (int g = 0; g < dense.length; g += 4) {
            int count = 0;
            for (int j = 0; j < 4; j++) if (keep[g + j]) count++;
            int fill = 2 - count; // free positions to take, lowest first, so the two stay ascending
            for (int j = 0; j < 4; j++) {
                boolean take = keep[g + j];
                if (!take && fill > 0) { take = true; fill--; }
                if (!take) continue;
                values[e] = keep[g + j] ? dense[g + j] : 0f;
                meta[e >> 2] |= (byte) (j << (2 * (e & 3)));
                e++;
            }
        }
        return new TwoFourMatrix(rows, cols, values, meta);
    }

    static int position(byte[] meta, long e) { return (meta[(int) (e >> 2)] >> (2 * (int) (e & 3))) & 3; }

    /** Row-major rows x cols with the kept values and zeros elsewhere. */
    public float[] toDense() {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int e = 0; e < values.length; e++) out[(e >> 1) * 4 + position(meta, e)] = values[e];
        return out;
    }

    /** Row-major rows x cols, true at the two kept positions of each group. */
    public boolean[] mask() {
        boolean[] out = new boolean[Math.multiplyExact(rows, cols)];
        for (int e = 0; e < values.length; e++) out[(e >> 1) * 4 + position(meta, e)] = true;
        return out;
    }

    public int rows() { return rows; }

    public int cols() { return cols; }

    public float[] values() { return values.clone(); }

    public byte[] meta() { return meta.clone(); }

    public HostBuffer valuesBuffer() { return CsrMatrix.view(MemorySegment.ofArray(values), DType.F32); }

    public HostBuffer metaBuffer() { return CsrMatrix.view(MemorySegment.ofArray(meta), DType.U8); }

    /** Descriptor of C (rows x n) = this * B (cols x n). */
    public SpmmDesc spmmDesc(int n) { return SpmmDesc.twoFour(rows, n, cols); }

    public Args spmmArgs(HostBuffer b, HostBuffer c) {
        return Args.of(Arg.VALUES, valuesBuffer(), Arg.META, metaBuffer(), Arg.B, b, Arg.C, c);
    }

    @Override public boolean equals(Object o) {
        return o instanceof TwoFourMatrix m && rows == m.rows && cols == m.cols && Arrays.equals(values, m.values) && Arrays.equals(meta, m.meta);
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(values) + Arrays.hashCode(meta) + rows * 7 + cols; }

    @Override public String toString() { return "TwoFourMatrix[" + rows + "x" + cols + "]"; }
}
