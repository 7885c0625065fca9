package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.Transpose;

import java.util.Arrays;

/**
 * The ops attention is made of: batched matrix products, softmax over the last axis, and the moves between
 * a row-major [rows, heads * dh] activation and the head-major [heads, rows, dh] layout in which every
 * (head, sequence) pair is one contiguous matrix. There is no permute kernel, so the moves are batched
 * GEMMs against 0/1 matrices: exact (each output is one product with 1 plus zeros) and runnable anywhere.
 */
public final class AttentionOps {
    private AttentionOps() {}

    /**
     * alpha * a[i] * b[i] (or b[i]^T) for each i: a is batch x m x k, b is batch x k x n (batch x n x k when
     * {@code transposeB}); the result is batch x m x n.
     */
    public static Tensor bmm(Tensor a, Tensor b, boolean transposeB, float alpha) {
        Ops.requireRank("bmm", a, 3);
        Ops.requireRank("bmm", b, 3);
        Ops.requireSameDType("bmm", a, b);
        int batch = a.dim(0), m = a.dim(1), k = a.dim(2), n = transposeB ? b.dim(1) : b.dim(2);
        if (b.dim(0) != batch || (transposeB ? b.dim(2) : b.dim(1)) != k)
            throw new IllegalArgumentException("bmm: shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape())
                    + (transposeB ? " (second transposed)" : "") + " do not chain");
        Transpose tb = transposeB ? Transpose.T : Transpose.N;
        Tensor out = Tensor.result(new int[] {batch, m, n}, g -> {
            // C = alpha A op(B): dA = alpha G op(B)^T; dB = alpha A^T G, or alpha G^T A when B was transposed.
            if (a.requiresGrad()) a.accumulate(batched(g, Transpose.N, b, transposeB ? Transpose.N : Transpose.T, batch, m, k, n, alpha));
            if (b.requiresGrad()) {
                b.accumulate(transposeB ? batched(g, Transpose.T, a, Transpose.N, batch, n, k, m, alpha)
                                        : batched(a, Transpose.T, g, Transpose.N, batch, k, n, m, alpha));
            }
        }, a, b);
        gemmInto(a, Transpose.N, b, tb, batch, m, n, k, alpha, out);
        return out;
    }

    private static Tensor batched(Tensor a, Transpose ta, Tensor b, Transpose tb, int batch, int m, int n, int k, float alpha) {
        Tensor out = Tensor.empty(a.dtype(), batch, m, n);
        gemmInto(a, ta, b, tb, batch, m, n, k, alpha, out);
        return out;
    }

    private static void gemmInto(Tensor a, Transpose ta, Tensor b, Transpose tb, int batch, int m, int n, int k, float alpha, Tensor out) {
        GemmDesc d = GemmDesc.of(a.dtype(), ta, tb, m, n, k, alpha, 0).withBatch(batch, (long) m * k, (long) k * n, (long) m * n);
        Exec.run(d, Args.of(Arg.A, a.buffer(), Arg.B, b.buffer(), Arg.C, out.buffer()));
    }

    /** Softmax over the last axis. */
    public static Tensor softmax(Tensor x) {
        int len = x.dim(-1), outer = Math.toIntExact(x.count() / len);
        Tensor[] self = new Tensor[1];
        Tensor out = Tensor.result(x.shape(), g -> {
            Tensor dx = Tensor.like(x);
            Exec.run(new SoftmaxDesc(outer, len, 1, false, Pass.BACKWARD, x.dtype()),
                    Args.of(Arg.DST, self[0].buffer(), Arg.DIFF_DST, g.buffer(), Arg.DIFF_SRC, dx.buffer()));
            x.accumulate(dx);
        }, x);
        self[0] = out;
        Exec.run(SoftmaxDesc.rows(outer, len, false).withDType(x.dtype()), Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    /** [rows, heads * dh] to [heads, rows, dh]; the gradient is {@link #mergeHeads}. */
    public static Tensor splitHeads(Tensor x, int heads) {
        Ops.requireRank("split_heads", x, 2);
        int rows = x.dim(0), width = x.dim(1);
        if (heads <= 0 || width % heads != 0)
            throw new IllegalArgumentException("split_heads: width " + width + " is not a multiple of heads=" + heads);
        int dh = width / heads;
        Tensor out = Tensor.result(new int[] {heads, rows, dh}, g -> x.accumulate(mergeHeads(g)), x);
        // Head h is columns h*dh.. of x: A starts dh further for each batch entry and keeps x's row pitch.
        GemmDesc d = GemmDesc.of(x.dtype(), Transpose.N, Transpose.N, rows, dh, dh, 1, 0)
                .withLeadingDims(width, dh, dh).withBatch(heads, dh, 0, (long) rows * dh);
        Exec.run(d, Args.of(Arg.A, x.buffer(), Arg.B, identity(x.dtype(), dh).buffer(), Arg.C, out.buffer()));
        return out;
    }

    /** [heads, rows, dh] to [rows, heads * dh]; the gradient is {@link #splitHeads}. */
    public static Tensor mergeHeads(Tensor y) {
        Ops.requireRank("merge_heads", y, 3);
        int heads = y.dim(0), rows = y.dim(1), dh = y.dim(2), width = heads * dh;
        Tensor out = Tensor.result(new int[] {rows, width}, g -> y.accumulate(splitHeads(g, heads)), y);
        // Head h lands in columns h*dh.. through a dh x width block of the identity; the heads are then summed.
        float[] place = new float[heads * dh * width];
        for (int h = 0; h < heads; h++) for (int i = 0; i < dh; i++) place[(h * dh + i) * width + h * dh + i] = 1;
        Tensor spread = Tensor.empty(y.dtype(), heads, rows, width);
        GemmDesc d = GemmDesc.of(y.dtype(), Transpose.N, Transpose.N, rows, width, dh, 1, 0)
                .withBatch(heads, (long) rows * dh, (long) dh * width, (long) rows * width);
        Exec.run(d, Args.of(Arg.A, y.buffer(), Arg.B, Tensor.of(y.dtype(), place, heads, dh, width).buffer(), Arg.C, spread.buffer()));
        Exec.run(new ReduceDesc(ReduceOp.SUM, 1, heads, rows * width, y.dtype()), Args.of(Arg.SRC, spread.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    private static Tensor identity(DType dtype, int n) {
        float[] v = new float[n * n];
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        return Tensor.of(dtype, v, n, n);
    }

    /**
     * Scaled dot-product attention over head-major q, k, v of [groups, t, dh] (a group is one head of one
     * sequence): softmax(q k^T / sqrt(dh) + mask) v, where the causal mask hides later positions.
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, boolean causal) {
        int t = q.dim(1), dh = q.dim(2);
        Tensor scores = bmm(q, k, true, (float) (1 / Math.sqrt(dh)));
        if (causal) {
            float[] mask = new float[t * t];
            // A large negative number rather than -inf: exp underflows to exactly 0 and no inf - inf appears.
            for (int i = 0; i < t; i++) for (int j = i + 1; j < t; j++) mask[i * t + j] = -1e9f;
            scores = Ops.add(scores, Tensor.of(scores.dtype(), mask, t, t));
        }
        return bmm(softmax(scores), v, false, 1f);
    }
}
