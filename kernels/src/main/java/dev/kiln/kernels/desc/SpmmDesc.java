package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * C = A * B with A sparse (m x k), B dense row-major k x n, C dense row-major m x n (overwritten); f32
 * values, s32 indices.
 * <ul>
 * <li>{@code CSR}: ROW_PTR (m+1), COL_IDX (nnz), VALUES (nnz). Column indices ascending within a row.</li>
 * <li>{@code BSR}: blocks of blockRows x blockCols; ROW_PTR (m/blockRows+1), COL_IDX (nnz blocks, block
 *     columns), VALUES (nnz * blockRows * blockCols, each block row-major).</li>
 * <li>{@code TWO_FOUR}: two kept values per group of four along each row; VALUES (m*k/2) and META (u8,
 *     m*k/8): the 2-bit position in its group of each kept value, four per byte, low bits first, ascending
 *     within a group. nnz is m*k/2.</li>
 * </ul>
 */
public record SpmmDesc(SparseFormat format, int m, int n, int k, int nnz, int blockRows, int blockCols) implements OpDesc {
    public enum SparseFormat { CSR, BSR, TWO_FOUR;
        public String lower() { return this == TWO_FOUR ? "2:4" : name().toLowerCase(java.util.Locale.ROOT); }
    }

    public SpmmDesc {
        Check.notNull("spmm", "format", format);
        String name = "spmm." + format.lower();
        Check.positive(name, "m", m);
        Check.positive(name, "n", n);
        Check.positive(name, "k", k);
        Check.nonNegative(name, "nnz", nnz);
        switch (format) {
            case CSR -> Check.that(nnz <= (long) m * k, name, "nnz=" + nnz + " exceeds m*k=" + (long) m * k);
            case BSR -> {
                Check.positive(name, "blockRows", blockRows);
                Check.positive(name, "blockCols", blockCols);
                Check.that(m % blockRows == 0 && k % blockCols == 0, name,
                        "m=" + m + " and k=" + k + " must be multiples of the block " + blockRows + "x" + blockCols);
                Check.that(nnz <= (long) (m / blockRows) * (k / blockCols), name, "nnz=" + nnz + " blocks exceed the "
                        + (m / blockRows) * (long) (k / blockCols) + " blocks of the matrix");
                Check.mul(name, nnz, blockRows, blockCols);
            }
            case TWO_FOUR -> {
                Check.that(k % 4 == 0, name, "k=" + k + " must be a multiple of 4");
                Check.toInt(name, "nnz m*k/2", (long) m * k / 2);
                Check.that(nnz == (int) ((long) m * k / 2), name, "nnz must be m*k/2=" + (long) m * k / 2 + ", got " + nnz);
            }
        }
        Check.mul(name, Math.max(m, k), n);
    }

    public static SpmmDesc csr(int m, int n, int k, int nnz) { return new SpmmDesc(SparseFormat.CSR, m, n, k, nnz, 1, 1); }

    public static SpmmDesc bsr(int m, int n, int k, int blocks, int blockRows, int blockCols) {
        return new SpmmDesc(SparseFormat.BSR, m, n, k, blocks, blockRows, blockCols);
    }

    public static SpmmDesc twoFour(int m, int n, int k) {
        return new SpmmDesc(SparseFormat.TWO_FOUR, m, n, k, (int) ((long) m * k / 2), 1, 4);
    }

    /** Stored values: nnz for CSR and 2:4, nnz blocks times the block size for BSR. */
    public long valueCount() { return format == SparseFormat.BSR ? (long) nnz * blockRows * blockCols : nnz; }

    @Override public OpKind kind() { return OpKind.SPMM; }

    @Override public DType dtype() { return DType.F32; }

    @Override public List<ArgSpec> args() {
        ArgSpec b = ArgSpec.in(Arg.B, DType.F32, (long) k * n, "k*n");
        ArgSpec c = ArgSpec.out(Arg.C, DType.F32, (long) m * n, "m*n");
        ArgSpec values = ArgSpec.in(Arg.VALUES, DType.F32, valueCount(), "stored values");
        return switch (format) {
            case CSR -> List.of(ArgSpec.in(Arg.ROW_PTR, DType.S32, m + 1L, "m+1"), ArgSpec.in(Arg.COL_IDX, DType.S32, nnz, "nnz"), values, b, c);
            case BSR -> List.of(ArgSpec.in(Arg.ROW_PTR, DType.S32, m / blockRows + 1L, "m/blockRows+1"),
                    ArgSpec.in(Arg.COL_IDX, DType.S32, nnz, "nnz blocks"), values, b, c);
            case TWO_FOUR -> List.of(values, ArgSpec.in(Arg.META, DType.U8, (long) m * k / 8 + ((long) m * k % 8 == 0 ? 0 : 1), "m*k/8"), b, c);
        };
    }

    @Override public double flops() { return 2.0 * valueCount() * n; }

    @Override public String opName() { return "spmm." + format.lower(); }

    @Override public String shape() {
        return "m=" + m + " n=" + n + " k=" + k + " nnz=" + nnz + (format == SparseFormat.BSR ? " block=" + blockRows + "x" + blockCols : "");
    }
}
