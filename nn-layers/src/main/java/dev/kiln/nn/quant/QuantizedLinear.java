package dev.kiln.nn.quant;

import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Layer;

import java.util.Arrays;

/** Inference-only Linear on the low-bit GEMM, converted from a trained {@link QatLinear}. */
public final class QuantizedLinear implements Layer {
    final LowBitMatmul matmul;

    QuantizedLinear(QatLinear trained) { matmul = new LowBitMatmul(trained); }

    @Override public Tensor forward(Tensor x) {
        if (x.rank() != 2 || x.dim(1) != matmul.k)
            throw new IllegalArgumentException("quantized linear(" + matmul.k + "->" + matmul.n + "): input of shape "
                    + Arrays.toString(x.shape()) + ", expected [batch, " + matmul.k + "]");
        int m = x.dim(0);
        return Tensor.of(matmul.multiply(x.toArray(), m, true), m, matmul.n);
    }

    @Override public void close() { matmul.close(); }
}
