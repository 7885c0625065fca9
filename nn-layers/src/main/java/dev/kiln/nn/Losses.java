package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.UnaryOp;

import java.util.Arrays;

/** Loss functions returning a scalar tensor. */
public final class Losses {
    private Losses() {}

    /**
     * Mean cross-entropy of {@code logits} (m x classes) against integer labels, through a fused, stable
     * log-softmax. Only m floats cross to the host (the picked log-probabilities), never the gradient graph.
     */
    public static Tensor crossEntropy(Tensor logits, int[] labels) {
        Ops.requireRank("cross_entropy", logits, 2);
        int m = logits.dim(0), classes = logits.dim(1);
        if (labels == null || labels.length != m)
            throw new IllegalArgumentException("cross_entropy: " + (labels == null ? "null" : labels.length) + " labels for "
                    + m + " rows of logits");
        for (int i = 0; i < m; i++)
            if (labels[i] < 0 || labels[i] >= classes)
                throw new IllegalArgumentException("cross_entropy: label " + labels[i] + " at row " + i + " is outside 0.." + (classes - 1));
        SoftmaxDesc fwd = SoftmaxDesc.rows(m, classes, true).withDType(logits.dtype());
        Tensor logp = Tensor.like(logits);
        Exec.run(fwd, Args.of(Arg.SRC, logits.buffer(), Arg.DST, logp.buffer()));
        double[] lp = logp.toDoubleArray();
        double loss = 0;
        for (int i = 0; i < m; i++) loss -= lp[i * classes + labels[i]];
        int[] y = labels.clone();
        Tensor out = Tensor.result(new int[] {1}, g -> {
            Tensor dlp = Tensor.like(logits);
            if (logits.dtype() == DType.F32) {
                float scale = -g.item() / m;
                float[] dlogp = new float[m * classes];
                for (int i = 0; i < m; i++) dlogp[i * classes + y[i]] = scale;
                dlp.set(dlogp);
            } else {
                double scale = -g.itemAsDouble() / m;
                double[] dlogp = new double[m * classes];
                for (int i = 0; i < m; i++) dlogp[i * classes + y[i]] = scale;
                dlp.set(dlogp);
            }
            Tensor dx = Tensor.like(logits);
            Exec.run(new SoftmaxDesc(m, classes, 1, true, Pass.BACKWARD, logits.dtype()),
                    Args.of(Arg.DST, logp.buffer(), Arg.DIFF_DST, dlp.buffer(), Arg.DIFF_SRC, dx.buffer()));
            logits.accumulate(dx);
        }, logits);
        out.set(new double[] {loss / m});
        return out;
    }

    /** Mean squared error between two tensors of the same shape. */
    public static Tensor mse(Tensor prediction, Tensor target) {
        if (!Arrays.equals(prediction.shape(), target.shape()))
            throw new IllegalArgumentException("mse: prediction " + Arrays.toString(prediction.shape()) + " and target "
                    + Arrays.toString(target.shape()) + " differ");
        Tensor d = Ops.sub(prediction, target);
        return Ops.mean(Ops.mul(d, d));
    }

    /**
     * Mean binary cross-entropy of {@code logits} against {@code targets} in [0, 1] (same shape), in the
     * stable form max(x, 0) - x y + log(1 + exp(-|x|)), built from differentiable ops.
     */
    public static Tensor bceWithLogits(Tensor logits, Tensor targets) {
        if (!Arrays.equals(logits.shape(), targets.shape()))
            throw new IllegalArgumentException("bce_with_logits: logits " + Arrays.toString(logits.shape()) + " and targets "
                    + Arrays.toString(targets.shape()) + " differ");
        Tensor softplusOfNegAbs = Ops.unary(UnaryOp.LOG, Ops.add(Ops.exp(Ops.unary(UnaryOp.NEG, Ops.unary(UnaryOp.ABS, logits))),
                Ops.constant(logits, 1)));
        return Ops.mean(Ops.add(Ops.sub(Ops.relu(logits), Ops.mul(logits, targets)), softplusOfNegAbs));
    }

    /** Index of the largest logit per row (for accuracy). */
    public static int[] argmax(Tensor logits) {
        Ops.requireRank("argmax", logits, 2);
        int m = logits.dim(0), c = logits.dim(1);
        float[] v = logits.toArray();
        int[] out = new int[m];
        for (int i = 0; i < m; i++) {
            int best = 0;
            for (int j = 1; j < c; j++) if (v[i * c + j] > v[i * c + best]) best = j;
            out[i] = best;
        }
        return out;
    }
}
