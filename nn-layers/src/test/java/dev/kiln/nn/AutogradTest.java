package dev.kiln.nn;

import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.UnaryOp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.nn.GradCheck.awayFromZero;
import static dev.kiln.nn.GradCheck.random;
import static org.junit.jupiter.api.Assertions.*;

/** Every differentiable op against finite differences; weights r make every output element matter. */
class AutogradTest {
    private static final List<Tensor> PARAMS = new ArrayList<>();

    static Tensor param(float[] v, int... shape) {
        Tensor t = Tensor.parameter(v, shape);
        PARAMS.add(t);
        return t;
    }

    @AfterAll static void release() { PARAMS.forEach(Tensor::close); }

    /** sum(y * r) for a fixed random r of y's shape. */
    static Tensor weighted(Tensor y, long seed) {
        Tensor r = Tensor.of(random(Math.toIntExact(y.count()), seed, -1, 1), y.shape());
        return Ops.sum(Ops.mul(y, r));
    }

    @ParameterizedTest @EnumSource(BinaryOp.class)
    void binaryWithBroadcasting(BinaryOp op) {
        Tensor a = param(awayFromZero(12, 1), 3, 4);
        float[] bv = awayFromZero(4, 2);
        if (op == BinaryOp.MAX || op == BinaryOp.MIN) for (int i = 0; i < 4; i++) bv[i] += 0.05f; // no ties within a step
        Tensor b = param(bv, 4);
        GradCheck.check(op.lower(), () -> weighted(Ops.binary(op, a, b), 3), List.of(a, b));
    }

    @ParameterizedTest @EnumSource(UnaryOp.class)
    void unary(UnaryOp op) {
        float[] v = op == UnaryOp.LOG || op == UnaryOp.SQRT ? random(10, 4, 0.5, 2) : awayFromZero(10, 4);
        Tensor x = param(v, 2, 5);
        GradCheck.check(op.lower(), () -> weighted(Ops.unary(op, x), 5), List.of(x));
    }

    @Test void matmulAndLinear() {
        Tensor a = param(random(15, 6, -1, 1), 3, 5);
        Tensor b = param(random(20, 7, -1, 1), 5, 4);
        GradCheck.check("matmul", () -> weighted(Ops.matmul(a, b), 8), List.of(a, b));
        Tensor w = param(random(10, 9, -1, 1), 2, 5);
        Tensor bias = param(random(2, 10, -1, 1), 2);
        GradCheck.check("linear", () -> weighted(Ops.linear(a, w, bias), 11), List.of(a, w, bias));
    }

    @Test void convolutionAndPooling() {
        Tensor x = param(random(2 * 4 * 5 * 6, 12, -1, 1), 2, 4, 5, 6);
        Tensor w = param(random(6 * 2 * 3 * 3, 13, -0.5, 0.5), 6, 2, 3, 3);
        Tensor b = param(random(6, 14, -1, 1), 6);
        GradCheck.check("conv2d groups=2 stride=2 pad=1", () -> weighted(ConvOps.conv2d(x, w, b, 2, 1, 1, 2), 15), List.of(x, w, b));
        Tensor y = param(awayFromZero(1 * 2 * 4 * 4, 16), 1, 2, 4, 4);
        GradCheck.check("max_pool2d", () -> weighted(ConvOps.maxPool2d(y, 2, 2, 0), 17), List.of(y));
        GradCheck.check("avg_pool2d", () -> weighted(ConvOps.avgPool2d(y, 3, 1, 1), 18), List.of(y));
        GradCheck.check("global_avg_pool", () -> weighted(ConvOps.globalAvgPool(y), 19), List.of(y));
    }

    /** Evaluation runs max pooling without its indices (NoGrad, or an input that needs no gradient): the same maxima. */
    @Test void maxPoolWithoutGradientGivesTheSameMaxima() {
        Tensor y = param(random(3 * 5 * 14 * 14, 24, -1, 1), 3, 5, 14, 14);
        try (Scope s = Scope.open()) {
            float[] tracked = ConvOps.maxPool2d(y, 2, 2, 0).toArray();
            float[] untracked;
            try (NoGrad ng = NoGrad.enter()) {
                untracked = ConvOps.maxPool2d(y, 2, 2, 0).toArray();
            }
            assertArrayEquals(tracked, untracked);
            Tensor plain = Tensor.of(random(3 * 5 * 14 * 14, 24, -1, 1), 3, 5, 14, 14); // requires no gradient
            assertArrayEquals(tracked, ConvOps.maxPool2d(plain, 2, 2, 0).toArray());
        }
    }

    @Test void lossesAndReshape() {
        Tensor logits = param(random(4 * 5, 20, -2, 2), 4, 5);
        int[] labels = {0, 4, 2, 2};
        GradCheck.check("cross_entropy", () -> Losses.crossEntropy(logits, labels), List.of(logits));
        Tensor p = param(random(6, 21, -1, 1), 2, 3);
        Tensor t = Tensor.parameter(random(6, 22, -1, 1), 2, 3);
        PARAMS.add(t);
        GradCheck.check("mse", () -> Losses.mse(p, t), List.of(p));
        GradCheck.check("reshape", () -> weighted(Ops.tanh(p.reshape(3, 2)), 23), List.of(p));
    }

    @Test void gradientsAccumulateOverUses() {
        Tensor x = param(random(3, 24, -1, 1), 3);
        GradCheck.check("x*x + x", () -> Ops.sum(Ops.add(Ops.mul(x, x), x)), List.of(x));
        try (Scope s = Scope.open()) {
            Ops.sum(x).backward();
            Ops.sum(x).backward();
            assertArrayEquals(new float[] {2, 2, 2}, x.grad().toArray(), "two backward passes add up");
            x.zeroGrad();
        }
    }

    @Test void scopesCloseIntermediatesButNotParametersOrTheirGradients() {
        Tensor w = param(random(4, 25, -1, 1), 2, 2);
        Tensor hidden;
        try (Scope s = Scope.open()) {
            hidden = Ops.tanh(Ops.matmul(w, w));
            Ops.sum(hidden).backward();
            assertTrue(s.size() > 0);
        }
        assertTrue(hidden.isClosed());
        assertFalse(w.isClosed());
        assertNotNull(w.grad());
        assertFalse(w.grad().isClosed(), "a leaf's gradient outlives the step scope");
        w.zeroGrad();
        assertThrows(IllegalStateException.class, hidden::toArray);
    }

    @Test void noGradRecordsNothingAndBadCallsAreClear() {
        Tensor w = param(random(4, 26, -1, 1), 4);
        try (Scope s = Scope.open()) {
            try (NoGrad ng = NoGrad.enter()) {
                assertFalse(Ops.relu(w).requiresGrad());
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Ops.relu(w).backward());
            assertTrue(e.getMessage().contains("scalar"), e.getMessage());
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                    () -> Ops.matmul(w.reshape(2, 2), Tensor.zeros(3, 2)));
            assertTrue(bad.getMessage().contains("[2, 2]") && bad.getMessage().contains("[3, 2]"), bad.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(w.reshape(2, 2), new int[] {0, 2}));
        }
    }
}
