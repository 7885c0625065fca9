package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * Dense times sparse, C = A * op(S), with A dense row-major m x k, S a CSR matrix (f32 values, s32
 * indices, column indices ascending within a row) and C dense row-major m x n, overwritten. The two
 * passes of a Linear layer whose weight W (out x in) is sparse:
 * <ul>
 * <li>{@code transposeSparse = true}: S is n x k and C = A * S^T: the forward y = x W^T (A = x,
 *     batch x in; S = W). ROW_PTR has n+1 entries; C[i][j] = sum over row j of S of A[i][col] * value.</li>
 * <li>{@code transposeSparse = false}: S is k x n and C = A * S: the input gradient dx = dy W (A = dy,
 *     batch x out; S = W). ROW_PTR has k+1 entries; each stored (r, col, v) adds A[i][r] * v to C[i][col].</li>
 * </ul>
 * SpMM with the sparse operand on the left is {@link SpmmDesc}.
 */
public record DsmmDesc(boolean transposeSparse, int m, int n, int k, int nnz) implements OpDesc {
    public DsmmDesc {
        String name = transposeSparse ? "dsmm.t" : "dsmm.n";
        Check.positive(name, "m", m);
        Check.positive(name, "n", n);
        Check.positive(name, "k", k);
        Check.nonNegative(name, "nnz", nnz);
        Check.that(nnz <= (long) n * k, name, "nnz=" + nnz + " exceeds n*k=" + (long) n * k);
        Check.mul(name, m, Math.max(n, k));
    }

    /** C (m x n) = A (m x k) * S^T with S sparse n x k: a sparse-weight Linear forward. */
    public static DsmmDesc timesTransposed(int m, int n, int k, int nnz) { return new DsmmDesc(true, m, n, k, nnz); }

    /** C (m x n) = A (m x k) * S with S sparse k x n: a sparse-weight Linear input gradient. */
    public static DsmmDesc times(int m, int n, int k, int nnz) { return new DsmmDesc(false, m, n, k, nnz); }

    /** Rows of the sparse operand: n when transposed, else k. */
    public int sparseRows() { return transposeSparse ? n : k; }

    /** Columns of the sparse operand: k when transposed, else n. */
    public int sparseCols() { return transposeSparse ? k : n; }

    @Override public OpKind kind() { return OpKind.DSMM; }

    @Override public DType dtype() { return DType.F32; }

    @Override public List<ArgSpec> args() {
        return List.of(ArgSpec.in(Arg.A, DType.F32, (long) m * k, "m*k"),
                ArgSpec.in(Arg.ROW_PTR, DType.S32, sparseRows() + 1L, transposeSparse ? "n+1" : "k+1"),
                ArgSpec.in(Arg.COL_IDX, DType.S32, nnz, "nnz"),
                ArgSpec.in(Arg.VALUES, DType.F32, nnz, "nnz"),
                ArgSpec.out(Arg.C, DType.F32, (long) m * n, "m*n"));
    }

    @Override public double flops() { return 2.0 * nnz * m; }

    @Override public String opName() { return transposeSparse ? "dsmm.t" : "dsmm.n"; }

    @Override public String shape() { return "m=" + m + " n=" + n + " k=" + k + " nnz=" + nnz; }
}
