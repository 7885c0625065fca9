package dev.kiln.nn.optim;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Parameter;

import java.util.List;

/** Gradient clipping by the global L2 norm over all parameters, as PyTorch's {@code clip_grad_norm_}. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales every gradient by {@code maxNorm / (norm + 1e-6)} when the global norm exceeds {@code maxNorm};
     * returns the norm before clipping. The per-parameter sums of squares run on the device; only one
     * float per parameter comes back to the host.
     */
    public static double clipGlobalNorm(List<Parameter> params, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("clip: max norm must be > 0, got " + maxNorm);
        try (Scope s = Scope.open(); NoGrad ignored = NoGrad.enter()) {
            double sq = 0;
            for (Parameter p : params) {
                Tensor g = p.tensor().grad();
                if (g != null) sq += Ops.sum(Ops.mul(g, g)).item();
            }
            double norm = Math.sqrt(sq);
            if (norm > maxNorm) {
                float factor = (float) (maxNorm / (norm + 1e-6));
                for (Parameter p : params) {
                    Tensor g = p.tensor().grad();
                    if (g != null) Ops.copyInto(Ops.scale(g, factor), g);
                }
            }
            return norm;
        }
    }
}
