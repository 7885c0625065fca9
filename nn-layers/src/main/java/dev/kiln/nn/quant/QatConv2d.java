package dev.kiln.nn.quant;

import dev.kiln.nn.ConvOps;
import dev.kiln.nn.Tensor;

import java.util.Arrays;

/** {@link QatLayer} for a Conv2d layer (one group, no dilation): y = conv(q(x), q(W)) + b, W k x c x r x s. */
public final class QatConv2d extends QatLayer {
    final int stride, pad;

    QatConv2d(QuantMode mode, Tensor weight, Tensor bias, int stride, int pad, int totalSteps) {
        super(mode, weight, bias, totalSteps);
        this.stride = stride;
        this.pad = pad;
    }

    @Override void checkInput(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != weight.dim(1))
            throw new IllegalArgumentException("qat conv2d(" + weight.dim(1) + "->" + weight.dim(0) + "): input of shape "
                    + Arrays.toString(x.shape()) + ", expected [batch, " + weight.dim(1) + ", height, width]");
    }

    @Override Tensor apply(Tensor x, Tensor w) { return ConvOps.conv2d(x, w, bias, stride, pad, 1, 1); }
}
