package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;

import java.util.Arrays;

/**
 * Batch, layer and RMS normalisation, forward and backward side by side. The training-mode kernels save
 * the per-set mean and 1/std, which the backward pass reads; they live in the step's scope like any
 * activation.
 */
public final class NormOps {
    private NormOps() {}

    /**
     * Batch normalisation of x (n x c, or n x c x spatial...), per channel. Training: batch statistics
     * (biased variance in the normalisation), and, when {@code runningMean} is given, the running estimates
     * move towards the batch's with {@code momentum}, using the unbiased variance as PyTorch does. Not
     * training: the running statistics through the inference kernel, or, when a gradient is wanted,
     * through ordinary differentiable ops that compute the same thing.
     */
    public static Tensor batchNorm(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                   boolean training, double momentum, double eps) {
        if (x.rank() < 2) throw new IllegalArgumentException("batch_norm: input must be n x c x ..., got " + Arrays.toString(x.shape()));
        int n = x.dim(0), c = x.dim(1), spatial = Math.toIntExact(x.count() / ((long) n * c));
        requireChannels("batch_norm", gamma, c);
        requireChannels("batch_norm", beta, c);
        if (!training) {
            if (runningMean == null || runningVar == null) throw new IllegalArgumentException("batch_norm: evaluation needs running statistics");
            boolean wantGrad = !NoGrad.active() && (x.requiresGrad() || gamma.requiresGrad() || beta.requiresGrad());
            return wantGrad ? batchNormComposite(x, gamma, beta, runningMean, runningVar, eps)
                            : batchNormInference(x, gamma, beta, runningMean, runningVar, eps, n, c, spatial);
        }
        NormDesc fwd = new NormDesc(NormKind.BATCH, n, c, spatial, eps, Mode.TRAINING, x.dtype());
        Tensor mean = Tensor.empty(x.dtype(), c), rstd = Tensor.empty(x.dtype(), c);
        Tensor out = normalised(fwd, x, gamma, beta, mean, rstd);
        if (runningMean != null) updateRunning(runningMean, runningVar, mean, rstd, momentum, eps, (long) n * spatial);
        return out;
    }

    private static Tensor batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps,
                                             int n, int c, int spatial) {
        Tensor out = Tensor.result(x.shape(), null);
        Exec.run(new NormDesc(NormKind.BATCH, n, c, spatial, eps, Mode.INFERENCE, x.dtype()),
                Args.of(Arg.SRC, x.buffer(), Arg.GAMMA, gamma.buffer(), Arg.BETA, beta.buffer(), Arg.MEAN, mean.buffer())
                        .put(Arg.VARIANCE, var.buffer()).put(Arg.DST, out.buffer()));
        return out;
    }

    /** (x - mean) * gamma / sqrt(var + eps) + beta with per-channel vectors broadcast as c x 1 x ... . */
    private static Tensor batchNormComposite(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps) {
        int[] perChannel = new int[x.rank() - 1];
        Arrays.fill(perChannel, 1);
        perChannel[0] = x.dim(1);
        Tensor scale = Ops.div(gamma.reshape(perChannel), Ops.sqrt(Ops.add(var.reshape(perChannel), epsilon(x, eps))));
        return Ops.add(Ops.mul(Ops.sub(x, mean.reshape(perChannel)), scale), beta.reshape(perChannel));
    }

    /** running = (1 - m) running + m batch, with the batch variance made unbiased: var * N / (N - 1). */
    private static void updateRunning(Tensor runningMean, Tensor runningVar, Tensor mean, Tensor rstd, double momentum,
                                      double eps, long count) {
        try (NoGrad ng = NoGrad.enter()) {
            float keep = (float) (1 - momentum), m = (float) momentum;
            Ops.copyInto(Ops.add(Ops.scale(runningMean, keep), Ops.scale(mean, m)), runningMean);
            // The kernel saves 1/sqrt(var + eps); undo that to recover the biased batch variance.
            Tensor var = Ops.sub(Ops.div(Ops.constant(rstd, 1), Ops.mul(rstd, rstd)), epsilon(rstd, eps));
            double unbias = count > 1 ? (double) count / (count - 1) : 1;
            Ops.copyInto(Ops.add(Ops.scale(runningVar, keep), Ops.scale(var, (float) (momentum * unbias))), runningVar);
        }
    }

    /** Layer normalisation over the last dimension (c), gamma and beta of c. */
    public static Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
        int c = x.dim(-1), rows = Math.toIntExact(x.count() / c);
        requireChannels("layer_norm", gamma, c);
        requireChannels("layer_norm", beta, c);
        return normalised(new NormDesc(NormKind.LAYER, rows, c, 1, eps, Mode.TRAINING, x.dtype()), x, gamma, beta,
                Tensor.empty(x.dtype(), rows), Tensor.empty(x.dtype(), rows));
    }

    /** RMS normalisation over the last dimension: x / sqrt(mean(x^2) + eps) * gamma. */
    public static Tensor rmsNorm(Tensor x, Tensor gamma, double eps) {
        int c = x.dim(-1), rows = Math.toIntExact(x.count() / c);
        requireChannels("rms_norm", gamma, c);
        return normalised(new NormDesc(NormKind.RMS, rows, c, 1, eps, Mode.TRAINING, x.dtype()), x, gamma, null, null,
                Tensor.empty(x.dtype(), rows));
    }

    /** Runs a training-mode norm and records its backward; beta and mean are null for RMS. */
    private static Tensor normalised(NormDesc fwd, Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor rstd) {
        boolean rms = fwd.norm() == NormKind.RMS;
        Tensor[] inputs = rms ? new Tensor[] {x, gamma} : new Tensor[] {x, gamma, beta};
        Tensor out = Tensor.result(x.shape(), g -> {
            NormDesc bwd = new NormDesc(fwd.norm(), fwd.n(), fwd.c(), fwd.spatial(), fwd.eps(), Mode.BACKWARD, fwd.dtype());
            Tensor dx = Tensor.like(x), dgamma = Tensor.like(gamma);
            Tensor dbeta = rms ? null : Tensor.like(beta);
            Args a = Args.of(Arg.SRC, x.buffer(), Arg.GAMMA, gamma.buffer(), Arg.RSTD, rstd.buffer(), Arg.DIFF_DST, g.buffer())
                    .put(Arg.DIFF_SRC, dx.buffer()).put(Arg.DIFF_GAMMA, dgamma.buffer());
            if (!rms) a.put(Arg.MEAN, mean.buffer()).put(Arg.DIFF_BETA, dbeta.buffer());
            Exec.run(bwd, a);
            x.accumulate(dx);
            gamma.accumulate(dgamma);
            if (!rms) beta.accumulate(dbeta);
        }, inputs);
        Args a = Args.of(Arg.SRC, x.buffer(), Arg.GAMMA, gamma.buffer(), Arg.DST, out.buffer(), Arg.RSTD, rstd.buffer());
        if (!rms) a.put(Arg.BETA, beta.buffer()).put(Arg.MEAN, mean.buffer());
        Exec.run(fwd, a);
        return out;
    }

    /** eps as a one-element tensor of {@code like}'s dtype; f32 keeps the historical float rounding of eps. */
    private static Tensor epsilon(Tensor like, double eps) {
        return Ops.constant(like, like.dtype() == dev.kiln.kernels.DType.F32 ? (float) eps : eps);
    }

    private static void requireChannels(String op, Tensor t, int c) {
        if (t.count() != c) throw new IllegalArgumentException(op + ": " + Arrays.toString(t.shape()) + " parameter for " + c + " channels");
    }
}
