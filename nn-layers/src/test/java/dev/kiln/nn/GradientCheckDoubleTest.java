package dev.kiln.nn;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.nn.layers.Activations;
import dev.kiln.nn.layers.BatchNorm;
import dev.kiln.nn.layers.Conv1d;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.ConvTranspose2d;
import dev.kiln.nn.layers.Dropout;
import dev.kiln.nn.layers.Embedding;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.LayerNorm;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.MultiHeadAttention;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.layers.Residual;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.layers.TransformerBlock;
import dev.kiln.nn.layers.TransformerBlock.NormPlacement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import static dev.kiln.nn.GradCheck64.awayFromZero;
import static dev.kiln.nn.GradCheck64.random;
import static dev.kiln.nn.GradCheck64.weighted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every differentiable op and every layer against central finite differences in double ({@link GradCheck64}:
 * step 1e-6, tolerance 1e-6 relative). Shapes are small and deliberately awkward (odd extents, strides that
 * do not divide, broadcasting along inner and outer dimensions); inputs are seeded. The f32 checks in
 * {@link AutogradTest} and {@link LayersTest} stay: they test the f32 kernels' backward passes, this tests
 * the maths of every backward formula to six digits.
 */
class GradientCheckDoubleTest {
    private final List<AutoCloseable> owned = new ArrayList<>();

    @AfterEach void release() throws Exception {
        for (AutoCloseable c : owned) c.close();
        owned.clear();
    }

    /** An f64 leaf holding {@code v}, closed after the test. */
    private Tensor p(double[] v, int... shape) {
        try (Precision f64 = Precision.use(DType.F64)) {
            Tensor t = Tensor.parameter(v, shape);
            owned.add(t);
            return t;
        }
    }

    /** A layer built in f64 (its parameters are f64 leaves), closed after the test. */
    private <L extends Layer> L layer(Supplier<L> make) {
        try (Precision f64 = Precision.use(DType.F64)) {
            L l = make.get();
            owned.add(l);
            return l;
        }
    }

    private static List<Tensor> with(Tensor x, Layer l) {
        List<Tensor> all = new ArrayList<>();
        all.add(x);
        for (Parameter q : l.parameters()) all.add(q.tensor());
        return all;
    }

    // ---- elementwise ----

    @ParameterizedTest @EnumSource(BinaryOp.class)
    void binaryWithBroadcasting(BinaryOp op) {
        // a [3x1x5] against b [4x1]: both broadcast, so both gradients are sums over broadcast dimensions.
        Tensor a = p(awayFromZero(15, 1), 3, 1, 5), b = p(awayFromZero(4, 2), 4, 1);
        GradCheck64.check(op.lower(), () -> weighted(Ops.binary(op, a, b), 3), List.of(a, b));
    }

    @ParameterizedTest @EnumSource(UnaryOp.class)
    void unary(UnaryOp op) {
        boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT;
        Tensor x = p(positive ? random(7, 4, 0.3, 2) : awayFromZero(7, 4), 7);
        GradCheck64.check(op.lower(), () -> weighted(Ops.unary(op, x), 5), List.of(x));
    }

    @Test void scaleSumMeanAndReshape() {
        Tensor x = p(random(6, 6, -1, 1), 2, 3);
        GradCheck64.check("scale", () -> weighted(Ops.scale(x, -1.75f), 7), List.of(x));
        GradCheck64.check("sum", () -> Ops.sum(Ops.mul(x, x)), List.of(x));
        GradCheck64.check("mean", () -> Ops.mean(Ops.mul(x, x)), List.of(x));
        GradCheck64.check("reshape", () -> weighted(Ops.exp(x.reshape(3, 2)), 8), List.of(x));
    }

    // ---- matrix products and lookups ----

    @Test void matmulAndLinear() {
        Tensor a = p(random(3 * 5, 9, -1, 1), 3, 5), b = p(random(5 * 2, 10, -1, 1), 5, 2);
        GradCheck64.check("matmul", () -> weighted(Ops.matmul(a, b), 11), List.of(a, b));
        Tensor w = p(random(4 * 5, 12, -1, 1), 4, 5), bias = p(random(4, 13, -1, 1), 4);
        GradCheck64.check("linear+bias", () -> weighted(Ops.linear(a, w, bias), 14), List.of(a, w, bias));
        GradCheck64.check("linear", () -> weighted(Ops.linear(a, w, null), 15), List.of(a, w));
    }

    @Test void embeddingWithRepeatedIds() {
        Tensor table = p(random(5 * 3, 16, -1, 1), 5, 3);
        GradCheck64.check("embedding", () -> weighted(Ops.embedding(new int[] {4, 0, 4, 2}, table), 17), List.of(table));
    }

    // ---- convolution, pooling, shuffles ----

    @Test void conv2dStridedPaddedDilatedGrouped() {
        Tensor x = p(random(2 * 4 * 5 * 6, 20, -1, 1), 2, 4, 5, 6);
        Tensor w = p(random(6 * 2 * 3 * 2, 21, -1, 1), 6, 2, 3, 2), bias = p(random(6, 22, -1, 1), 6);
        // groups 2, stride 2 on 5x6 (not dividing), pad 1, dilation 1.
        GradCheck64.check("conv2d groups=2 stride=2", () -> weighted(ConvOps.conv2d(x, w, bias, 2, 1, 1, 2), 23), List.of(x, w, bias));
        Tensor wd = p(random(4 * 3 * 3, 24, -1, 1), 4, 1, 3, 3);
        GradCheck64.check("conv2d depthwise dilation=2", () -> weighted(ConvOps.conv2d(x, wd, null, 1, 2, 2, 4), 25), List.of(x, wd));
    }

    @Test void conv1dAndTransposed() {
        Tensor x = p(random(2 * 3 * 7, 26, -1, 1), 2, 3, 7);
        Tensor w = p(random(4 * 3 * 3, 27, -1, 1), 4, 3, 3), bias = p(random(4, 28, -1, 1), 4);
        GradCheck64.check("conv1d stride=2 pad=1 dilation=2", () -> weighted(ConvOps.conv1d(x, w, bias, 2, 1, 2, 1), 29), List.of(x, w, bias));
        Tensor xi = p(random(1 * 4 * 3 * 2, 30, -1, 1), 1, 4, 3, 2);
        Tensor wt = p(random(4 * 3 * 3 * 3, 31, -1, 1), 4, 3, 3, 3), bt = p(random(6, 32, -1, 1), 6);
        GradCheck64.check("conv_transpose2d stride=2 outPad=1 groups=2",
                () -> weighted(ConvOps.convTranspose2d(xi, wt, bt, 2, 1, 1, 2), 33), List.of(xi, wt, bt));
    }

    @Test void poolingAndShuffles() {
        Tensor x = p(awayFromZero(2 * 3 * 5 * 5, 34), 2, 3, 5, 5);
        GradCheck64.check("max_pool2d 3/2 pad 1", () -> weighted(ConvOps.maxPool2d(x, 3, 2, 1), 35), List.of(x));
        GradCheck64.check("avg_pool2d 3/2 pad 1", () -> weighted(ConvOps.avgPool2d(x, 3, 2, 1), 36), List.of(x));
        GradCheck64.check("global_avg_pool", () -> weighted(ConvOps.globalAvgPool(x), 37), List.of(x));
        Tensor s = p(random(1 * 8 * 3 * 2, 38, -1, 1), 1, 8, 3, 2);
        GradCheck64.check("pixel_shuffle 2", () -> weighted(ConvOps.pixelShuffle(s, 2), 39), List.of(s));
        Tensor u = p(random(2 * 1 * 4 * 6, 40, -1, 1), 2, 1, 4, 6);
        GradCheck64.check("pixel_unshuffle 2", () -> weighted(ConvOps.pixelUnshuffle(u, 2), 41), List.of(u));
    }

    // ---- normalisation ----

    @Test void batchNormTrainingAndEvaluation() {
        Tensor x = p(random(3 * 2 * 3 * 1, 42, -1, 1), 3, 2, 3, 1);
        Tensor gamma = p(random(2, 43, 0.5, 1.5), 2), beta = p(random(2, 44, -1, 1), 2);
        GradCheck64.check("batch_norm 2d", () -> weighted(NormOps.batchNorm(x, gamma, beta, null, null, true, 0.1, 1e-5), 45),
                List.of(x, gamma, beta));
        Tensor rows = p(random(5 * 3, 46, -1, 1), 5, 3);
        Tensor g3 = p(random(3, 47, 0.5, 1.5), 3), b3 = p(random(3, 48, -1, 1), 3);
        GradCheck64.check("batch_norm 1d", () -> weighted(NormOps.batchNorm(rows, g3, b3, null, null, true, 0.1, 1e-5), 49),
                List.of(rows, g3, b3));
        Tensor mean = p(random(3, 50, -0.5, 0.5), 3), var = p(random(3, 51, 0.5, 2), 3);
        GradCheck64.check("batch_norm evaluation", () -> weighted(NormOps.batchNorm(rows, g3, b3, mean, var, false, 0.1, 1e-5), 52),
                List.of(rows, g3, b3, mean, var));
    }

    @Test void layerAndRmsNorm() {
        Tensor x = p(random(4 * 5, 53, -1, 1), 4, 5);
        Tensor gamma = p(random(5, 54, 0.5, 1.5), 5), beta = p(random(5, 55, -1, 1), 5);
        GradCheck64.check("layer_norm", () -> weighted(NormOps.layerNorm(x, gamma, beta, 1e-5), 56), List.of(x, gamma, beta));
        GradCheck64.check("rms_norm", () -> weighted(NormOps.rmsNorm(x, gamma, 1e-6), 57), List.of(x, gamma));
    }

    // ---- attention ----

    @Test void bmmSoftmaxAndHeadMoves() {
        Tensor a = p(random(2 * 3 * 4, 58, -1, 1), 2, 3, 4), b = p(random(2 * 4 * 5, 59, -1, 1), 2, 4, 5);
        GradCheck64.check("bmm", () -> weighted(AttentionOps.bmm(a, b, false, 0.7f), 60), List.of(a, b));
        Tensor bt = p(random(2 * 5 * 4, 61, -1, 1), 2, 5, 4);
        GradCheck64.check("bmm transposed", () -> weighted(AttentionOps.bmm(a, bt, true, 1f), 62), List.of(a, bt));
        Tensor s = p(random(3 * 7, 63, -2, 2), 3, 7);
        GradCheck64.check("softmax", () -> weighted(AttentionOps.softmax(s), 64), List.of(s));
        Tensor rows = p(random(3 * 6, 65, -1, 1), 3, 6);
        GradCheck64.check("split_heads", () -> weighted(AttentionOps.splitHeads(rows, 3), 66), List.of(rows));
        Tensor heads = p(random(2 * 3 * 2, 67, -1, 1), 2, 3, 2);
        GradCheck64.check("merge_heads", () -> weighted(AttentionOps.mergeHeads(heads), 68), List.of(heads));
    }

    @Test void scaledDotProductAttention() {
        Tensor q = p(random(2 * 3 * 2, 69, -1, 1), 2, 3, 2), k = p(random(2 * 3 * 2, 70, -1, 1), 2, 3, 2);
        Tensor v = p(random(2 * 3 * 2, 71, -1, 1), 2, 3, 2);
        GradCheck64.check("attention", () -> weighted(AttentionOps.attention(q, k, v, false), 72), List.of(q, k, v));
        GradCheck64.check("attention causal", () -> weighted(AttentionOps.attention(q, k, v, true), 73), List.of(q, k, v));
    }

    // ---- losses ----

    @Test void losses() {
        Tensor logits = p(random(4 * 5, 74, -2, 2), 4, 5);
        GradCheck64.check("cross_entropy", () -> Losses.crossEntropy(logits, new int[] {3, 0, 4, 3}), List.of(logits));
        Tensor target = p(random(4 * 5, 75, -1, 1), 4, 5);
        GradCheck64.check("mse", () -> Losses.mse(logits, target), List.of(logits, target));
        Tensor probs = p(random(4 * 5, 76, 0, 1), 4, 5);
        GradCheck64.check("bce_with_logits", () -> Losses.bceWithLogits(logits, probs), List.of(logits, probs));
    }

    // ---- layers ----

    @Test void linearConvAndTransposedConvLayers() {
        SplittableRandom r = new SplittableRandom(80);
        Tensor x = p(random(3 * 5, 81, -1, 1), 3, 5);
        Linear lin = layer(() -> new Linear(5, 2, r));
        GradCheck64.check("Linear", () -> weighted(lin.forward(x), 82), with(x, lin));
        Tensor img = p(random(1 * 2 * 5 * 4, 83, -1, 1), 1, 2, 5, 4);
        Conv2d conv = layer(() -> new Conv2d(2, 4, 3, 2, 1, 1, 2, r));
        GradCheck64.check("Conv2d", () -> weighted(conv.forward(img), 84), with(img, conv));
        Tensor seq = p(random(2 * 2 * 9, 85, -1, 1), 2, 2, 9);
        Conv1d conv1 = layer(() -> new Conv1d(2, 3, 3, 2, 1, r));
        GradCheck64.check("Conv1d", () -> weighted(conv1.forward(seq), 86), with(seq, conv1));
        ConvTranspose2d up = layer(() -> new ConvTranspose2d(2, 3, 3, 2, 1, 1, 1, r));
        Tensor small = p(random(1 * 2 * 2 * 3, 87, -1, 1), 1, 2, 2, 3);
        GradCheck64.check("ConvTranspose2d", () -> weighted(up.forward(small), 88), with(small, up));
    }

    @Test void normalisationLayers() {
        Tensor img = p(random(3 * 2 * 2 * 2, 90, -1, 1), 3, 2, 2, 2);
        BatchNorm bn2 = layer(() -> BatchNorm.of2d(2));
        GradCheck64.check("BatchNorm2d training", () -> weighted(bn2.forward(img), 91), with(img, bn2));
        bn2.train(false);
        GradCheck64.check("BatchNorm2d evaluation", () -> weighted(bn2.forward(img), 92), with(img, bn2));
        Tensor rows = p(random(4 * 3, 93, -1, 1), 4, 3);
        BatchNorm bn1 = layer(() -> BatchNorm.of1d(3));
        GradCheck64.check("BatchNorm1d", () -> weighted(bn1.forward(rows), 94), with(rows, bn1));
        LayerNorm ln = layer(() -> LayerNorm.layer(3));
        GradCheck64.check("LayerNorm", () -> weighted(ln.forward(rows), 95), with(rows, ln));
        LayerNorm rms = layer(() -> LayerNorm.rms(3));
        GradCheck64.check("RMSNorm", () -> weighted(rms.forward(rows), 96), with(rows, rms));
    }

    @Test void parameterFreeLayers() {
        Tensor x = p(awayFromZero(2 * 4 * 4 * 4, 100), 2, 4, 4, 4);
        List<Layer> all = List.of(Activations.relu(), Activations.gelu(), Activations.silu(), Activations.tanh(), Activations.sigmoid(),
                Activations.softmax(), Activations.flatten(), Activations.maxPool2d(2, 2), Activations.avgPool2d(3, 2, 1),
                Activations.globalAvgPool(), Activations.pixelShuffle(2), Activations.pixelUnshuffle(2));
        String[] names = {"ReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softmax", "Flatten", "MaxPool2d", "AvgPool2d", "GlobalAvgPool",
                "PixelShuffle", "PixelUnshuffle"};
        for (int i = 0; i < all.size(); i++) {
            Layer l = all.get(i);
            long seed = 101 + i;
            GradCheck64.check(names[i], () -> weighted(l.forward(x), seed), List.of(x));
        }
    }

    @Test void dropoutWithAFixedMask() {
        Tensor x = p(random(3 * 5, 120, -1, 1), 3, 5);
        // A fresh layer with the same seed per evaluation draws the same mask, so the function is fixed.
        GradCheck64.check("Dropout p=0.4", () -> {
            try (Dropout d = new Dropout(0.4, 121)) {
                return weighted(d.forward(x), 122);
            }
        }, List.of(x));
    }

    @Test void embeddingLayer() {
        Embedding e = layer(() -> new Embedding(6, 3, new SplittableRandom(123)));
        Tensor ids;
        try (Precision f64 = Precision.use(DType.F64)) {
            ids = Tensor.of(new double[] {5, 1, 1, 0, 3, 5}, 2, 3);
            owned.add(ids);
        }
        GradCheck64.check("Embedding", () -> weighted(e.forward(ids), 124), tensorsOf(e));
    }

    @Test void attentionAndTransformerBlocks() {
        Tensor x = p(random(2 * 3 * 4, 130, -1, 1), 2, 3, 4);
        MultiHeadAttention mha = layer(() -> new MultiHeadAttention(4, 2, true, new SplittableRandom(131)));
        GradCheck64.check("MultiHeadAttention causal", () -> weighted(mha.forward(x), 132), with(x, mha), keyBias(mha));
        for (NormPlacement placement : NormPlacement.values()) {
            Tensor xs = p(random(1 * 3 * 4, 133, -1, 1), 1, 3, 4);
            TransformerBlock block = layer(() -> new TransformerBlock(4, 2, 6, false, placement, new SplittableRandom(134)));
            GradCheck64.check("TransformerBlock " + placement, () -> weighted(block.forward(xs), 135), with(xs, block), keyBias(block));
        }
    }

    @Test void sequentialAndResidualComposition() {
        SplittableRandom r = new SplittableRandom(140);
        Sequential net = layer(() -> new Sequential(new Linear(4, 5, r), Activations.tanh(),
                new Residual(new Sequential(new Linear(5, 5, r), Activations.gelu())), new Linear(5, 3, r)));
        Tensor x = p(random(3 * 4, 141, -1, 1), 3, 4);
        GradCheck64.check("Sequential+Residual", () -> Losses.crossEntropy(net.forward(x), new int[] {2, 0, 1}), with(x, net));
    }

    // ---- dtype plumbing ----

    @Test void f64FlowsEndToEndAndMixingIsRejected() {
        Tensor a = p(random(3, 150, -1, 1), 3);
        try (Precision f64 = Precision.use(DType.F64); Scope s = Scope.open()) {
            Tensor y = Ops.gelu(Ops.mul(a, a));
            assertEquals(DType.F64, y.dtype());
            // 1/3 is not a float: an f32 step anywhere would round it to 0.3333333432674408.
            Tensor third = Ops.mean(Tensor.of(new double[] {0, 1, 0}, 3));
            assertEquals(1.0 / 3, third.itemAsDouble(), 0);
            Tensor block = Tensor.empty(4, 3, 2);
            assertEquals(DType.F64, block.dtype());
            org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {6, 2, 1}, block.strides());
        }
        try (Scope s = Scope.open()) {
            Tensor f32 = Tensor.of(new float[] {1, 2, 3}, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.add(a, f32));
            assertEquals(true, e.getMessage().contains("f64") && e.getMessage().contains("f32"), e.getMessage());
        }
    }

    /** The key projection's bias: softmax(q (k + b)^T) = softmax(q k^T) row by row, so its gradient is exactly zero. */
    private static List<Tensor> keyBias(Layer l) {
        List<Tensor> out = l.parameters().stream().filter(q -> q.name().endsWith("k.bias")).map(Parameter::tensor).toList();
        assertEquals(1, out.size(), "one key bias");
        return out;
    }

    @Test void dispatchSendsF64ToTheReferenceAndSaysWhy() {
        try (Precision f64 = Precision.use(DType.F64); Scope s = Scope.open()) {
            Tensor x = Tensor.of(new double[] {0.5, -1, 2}, 3), y = Tensor.like(x);
            var desc = new dev.kiln.kernels.desc.UnaryDesc(UnaryOp.GELU, 3).withDType(DType.F64);
            var decision = dev.kiln.dispatch.Dispatch.get().decide(desc,
                    dev.kiln.kernels.Args.of(dev.kiln.kernels.desc.Arg.SRC, x.buffer(), dev.kiln.kernels.desc.Arg.DST, y.buffer()));
            assertEquals("ref", decision.implementation(), decision.summary());
            assertEquals(true, decision.rejected().stream().anyMatch(r -> r.contains("f32 kernels only") && r.contains("f64")),
                    "the vector kernel's refusal is traced: " + decision.rejected());
        }
    }

    private static List<Tensor> tensorsOf(Layer l) { return l.parameters().stream().map(Parameter::tensor).toList(); }
}
