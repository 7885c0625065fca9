package dev.kiln.nn.layers;

import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.nn.AttentionOps;
import dev.kiln.nn.ConvOps;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

/** Parameter-free layers. */
public final class Activations {
    private Activations() {}

    public static Layer relu() { return x -> Ops.relu(x); }

    public static Layer gelu() { return x -> Ops.gelu(x); }

    public static Layer silu() { return x -> Ops.silu(x); }

    public static Layer tanh() { return x -> Ops.unary(UnaryOp.TANH, x); }

    public static Layer sigmoid() { return x -> Ops.unary(UnaryOp.SIGMOID, x); }

    /** Softmax over the last dimension (attention weights, probabilities from logits). */
    public static Layer softmax() { return AttentionOps::softmax; }

    /** n x ... to n x (product of the rest), no copy. */
    public static Layer flatten() {
        return x -> x.reshape(x.dim(0), Math.toIntExact(x.count() / x.dim(0)));
    }

    public static Layer maxPool2d(int window, int stride) { return x -> ConvOps.maxPool2d(x, window, stride, 0); }

    public static Layer avgPool2d(int window, int stride) { return x -> ConvOps.avgPool2d(x, window, stride, 0); }

    /** Average pooling with padding that is not counted in the divisor. */
    public static Layer avgPool2d(int window, int stride, int pad) { return x -> ConvOps.avgPool2d(x, window, stride, pad); }

    public static Layer pixelShuffle(int factor) { return x -> ConvOps.pixelShuffle(x, factor); }

    public static Layer pixelUnshuffle(int factor) { return x -> ConvOps.pixelUnshuffle(x, factor); }

    public static Layer globalAvgPool() { return ConvOps::globalAvgPool; }
}
