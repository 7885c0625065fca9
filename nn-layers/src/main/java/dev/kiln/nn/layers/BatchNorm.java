package dev.kiln.nn.layers;

import dev.kiln.nn.NormOps;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * Batch normalisation over channel 1 of n x c (1d), n x c x l (1d) or n x c x h x w (2d) input, as PyTorch:
 * training normalises with the batch statistics and moves the running mean and (unbiased) variance towards
 * them with {@code momentum} (default 0.1); evaluation normalises with the running statistics. Gamma
 * starts at 1, beta at 0, the running mean at 0 and the running variance at 1.
 */
public final class BatchNorm implements Layer {
    private final Tensor gamma, beta, runningMean, runningVar;
    private final int channels, rank;
    private final double momentum, eps;
    private boolean training = true;

    private BatchNorm(int channels, int rank, double momentum, double eps) {
        if (channels <= 0 || !(momentum >= 0 && momentum <= 1) || !(eps > 0))
            throw new IllegalArgumentException("batch_norm: channels=" + channels + " must be > 0, momentum=" + momentum
                    + " in [0, 1], eps=" + eps + " > 0");
        this.channels = channels;
        this.rank = rank;
        this.momentum = momentum;
        this.eps = eps;
        this.gamma = Tensor.parameter(Ops.filledArray(channels, 1), channels);
        this.beta = Tensor.parameter(new float[channels], channels);
        this.runningMean = Tensor.zeros(channels).keep();
        this.runningVar = Tensor.of(Ops.filledArray(channels, 1), channels).keep();
    }

    /** For n x c or n x c x l input. */
    public static BatchNorm of1d(int channels) { return new BatchNorm(channels, 1, 0.1, 1e-5); }

    /** For n x c x h x w input. */
    public static BatchNorm of2d(int channels) { return new BatchNorm(channels, 2, 0.1, 1e-5); }

    public static BatchNorm of(int channels, boolean twoD, double momentum, double eps) {
        return new BatchNorm(channels, twoD ? 2 : 1, momentum, eps);
    }

    @Override public Tensor forward(Tensor x) {
        boolean ok = x.rank() >= 2 && x.dim(1) == channels && (rank == 2 ? x.rank() == 4 : x.rank() <= 3);
        if (!ok) throw new IllegalArgumentException("batch_norm" + rank + "d(" + channels + "): input of shape " + Arrays.toString(x.shape())
                + ", expected " + (rank == 2 ? "[batch, " + channels + ", height, width]" : "[batch, " + channels + "] or [batch, " + channels + ", length]"));
        return NormOps.batchNorm(x, gamma, beta, runningMean, runningVar, training, momentum, eps);
    }

    @Override public void train(boolean training) { this.training = training; }

    @Override public List<Parameter> parameters() { return List.of(new Parameter("weight", gamma), new Parameter("bias", beta)); }

    @Override public List<Parameter> buffers() {
        return List.of(new Parameter("running_mean", runningMean), new Parameter("running_var", runningVar));
    }
}
