package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * Sampled dense-dense product: for each stored position (row, col) of a CSR mask (m x n, ROW_PTR m+1,
 * COL_IDX nnz, column indices ascending within a row), VALUES[e] = sum over p of A'[row][p] * B'[col][p],
 * the product A' B'^T at that position only; VALUES (nnz f32) is overwritten, the mask is read.
 * <ul>
 * <li>{@code reduceOverRows = false}: A' = A is m x k and B' = B is n x k, both row-major: sparse
 *     attention scores Q K^T.</li>
 * <li>{@code reduceOverRows = true}: A is k x m and B is k x n (A' = A^T, B' = B^T): the weight gradient
 *     dW = dy^T x of a sparse-weight Linear layer at W's mask (A = dy, batch x out; B = x, batch x in).</li>
 * </ul>
 */
public record SddmmDesc(boolean reduceOverRows, int m, int n, int k, int nnz) implements OpDesc {
    public SddmmDesc {
        String name = reduceOverRows ? "sddmm.t" : "sddmm";
        Check.positive(name, "m", m);
        Check.positive(name, "n", n);
        Check.positive(name, "k", k);
        Check.nonNegative(name, "nnz", nnz);
        Check.that(nnz <= (long) m * n, name, "nnz=" + nnz + " exceeds m*n=" + (long) m * n);
        Check.mul(name, Math.max(m, n), k);
    }

    /** Scores of Q (m x k) and K (n x k) at the mask. */
    public static SddmmDesc of(int m, int n, int k, int nnz) { return new SddmmDesc(false, m, n, k, nnz); }

    /** A^T B at the mask, A k x m and B k x n: the sparse weight gradient. */
    public static SddmmDesc transposedInputs(int m, int n, int k, int nnz) { return new SddmmDesc(true, m, n, k, nnz); }

    @Override public OpKind kind() { return OpKind.SDDMM; }

    @Override public DType dtype() { return DType.F32; }

    @Override public List<ArgSpec> args() {
        return List.of(ArgSpec.in(Arg.A, DType.F32, (long) m * k, reduceOverRows ? "k*m" : "m*k"),
                ArgSpec.in(Arg.B, DType.F32, (long) n * k, reduceOverRows ? "k*n" : "n*k"),
                ArgSpec.in(Arg.ROW_PTR, DType.S32, m + 1L, "m+1"),
                ArgSpec.in(Arg.COL_IDX, DType.S32, nnz, "nnz"),
                ArgSpec.out(Arg.VALUES, DType.F32, nnz, "nnz"));
    }

    @Override public double flops() { return 2.0 * nnz * k; }

    @Override public String opName() { return reduceOverRows ? "sddmm.t" : "sddmm"; }

    @Override public String shape() { return "m=" + m + " n=" + n + " k=" + k + " nnz=" + nnz; }
}
