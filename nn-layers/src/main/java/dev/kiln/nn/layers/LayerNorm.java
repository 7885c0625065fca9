package dev.kiln.nn.layers;

import dev.kiln.nn.NormOps;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.List;

/**
 * Layer normalisation over the last dimension ({@code features}); with {@code rms} it is RMSNorm (no
 * centring, no beta). Gamma starts at 1 and beta at 0. The same in training and evaluation.
 */
public final class LayerNorm implements Layer {
    private final Tensor gamma, beta;
    private final int features;
    private final double eps;

    private LayerNorm(int features, double eps, boolean rms) {
        if (features <= 0 || !(eps > 0))
            throw new IllegalArgumentException((rms ? "rms_norm" : "layer_norm") + ": features=" + features + " must be > 0, eps=" + eps + " > 0");
        this.features = features;
        this.eps = eps;
        this.gamma = Tensor.parameter(Ops.filledArray(features, 1), features);
        this.beta = rms ? null : Tensor.parameter(new float[features], features);
    }

    public static LayerNorm layer(int features) { return new LayerNorm(features, 1e-5, false); }

    /** RMSNorm with eps 1e-6 (as in LLaMA). */
    public static LayerNorm rms(int features) { return new LayerNorm(features, 1e-6, true); }

    public static LayerNorm of(int features, double eps, boolean rms) { return new LayerNorm(features, eps, rms); }

    @Override public Tensor forward(Tensor x) {
        if (x.dim(-1) != features)
            throw new IllegalArgumentException((beta == null ? "rms_norm(" : "layer_norm(") + features + "): input of shape "
                    + java.util.Arrays.toString(x.shape()) + " does not end in " + features);
        return beta == null ? NormOps.rmsNorm(x, gamma, eps) : NormOps.layerNorm(x, gamma, beta, eps);
    }

    @Override public List<Parameter> parameters() {
        return beta == null ? List.of(new Parameter("weight", gamma))
                            : List.of(new Parameter("weight", gamma), new Parameter("bias", beta));
    }
}
