package dev.kiln.nn.quant;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.Arrays;

/** {@link QatLayer} for a Linear layer: y = q(x) q(W)^T + b, W out x in. */
public final class QatLinear extends QatLayer {
    QatLinear(QuantMode mode, Tensor weight, Tensor bias, int totalSteps) { super(mode, weight, bias, totalSteps); }

    @Override void checkInput(Tensor x) {
        if (x.rank() != 2 || x.dim(1) != weight.dim(1))
            throw new IllegalArgumentException("qat linear(" + weight.dim(1) + "->" + weight.dim(0) + "): input of shape "
                    + Arrays.toString(x.shape()) + ", expected [batch, " + weight.dim(1) + "]");
    }

    @Override Tensor apply(Tensor x, Tensor w) { return Ops.linear(x, w, bias); }
}
