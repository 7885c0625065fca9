package dev.kiln.nn;

import dev.kiln.nn.io.Checkpoint;
import dev.kiln.nn.layers.BatchNorm;
import dev.kiln.nn.layers.ConvTranspose2d;
import dev.kiln.nn.layers.Dropout;
import dev.kiln.nn.layers.Embedding;
import dev.kiln.nn.layers.LayerNorm;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.layers.Residual;
import dev.kiln.nn.layers.Sequential;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.kiln.nn.AutogradTest.weighted;
import static dev.kiln.nn.GradCheck.random;
import static org.junit.jupiter.api.Assertions.*;

/** Normalisation, dropout, transposed convolution, shuffles, embedding, BCE and residuals: values and gradients. */
class LayersTest {
    private static final List<Tensor> PARAMS = new ArrayList<>();
    @TempDir Path dir;

    static Tensor param(float[] v, int... shape) {
        Tensor t = Tensor.parameter(v, shape);
        PARAMS.add(t);
        return t;
    }

    @AfterAll static void release() { PARAMS.forEach(Tensor::close); }

    static List<Tensor> tensors(List<Parameter> ps) { return ps.stream().map(Parameter::tensor).toList(); }

    @Test void batchNormTrainingGradients() {
        Tensor x = param(random(3 * 2 * 2 * 2, 1, -1, 1), 3, 2, 2, 2);
        Tensor gamma = param(random(2, 2, 0.5, 1.5), 2), beta = param(random(2, 3, -1, 1), 2);
        GradCheck.check("batch_norm 2d", () -> weighted(NormOps.batchNorm(x, gamma, beta, null, null, true, 0.1, 1e-5), 4),
                List.of(x, gamma, beta));
        Tensor rows = param(random(5 * 3, 5, -1, 1), 5, 3);
        Tensor g3 = param(random(3, 6, 0.5, 1.5), 3), b3 = param(random(3, 7, -1, 1), 3);
        GradCheck.check("batch_norm 1d", () -> weighted(NormOps.batchNorm(rows, g3, b3, null, null, true, 0.1, 1e-5), 8),
                List.of(rows, g3, b3));
    }

    @Test void batchNormEvaluationUsesRunningStatisticsWithAndWithoutGradients() {
        Tensor x = param(random(2 * 3 * 2 * 2, 9, -1, 1), 2, 3, 2, 2);
        Tensor gamma = param(random(3, 10, 0.5, 1.5), 3), beta = param(random(3, 11, -1, 1), 3);
        try (Scope s = Scope.open()) {
            Tensor mean = Tensor.of(new float[] {0.1f, -0.2f, 0.3f}, 3), var = Tensor.of(new float[] {0.5f, 1.5f, 2f}, 3);
            float[] withGrad = NormOps.batchNorm(x, gamma, beta, mean, var, false, 0.1, 1e-5).toArray();
            float[] kernel;
            try (NoGrad ng = NoGrad.enter()) {
                kernel = NormOps.batchNorm(x, gamma, beta, mean, var, false, 0.1, 1e-5).toArray();
            }
            float[] xs = x.toArray(), gs = gamma.toArray(), bs = beta.toArray(), ms = mean.toArray(), vs = var.toArray();
            for (int i = 0; i < xs.length; i++) {
                int c = (i / 4) % 3;
                double expected = (xs[i] - ms[c]) / Math.sqrt(vs[c] + 1e-5) * gs[c] + bs[c];
                assertEquals(expected, kernel[i], 1e-5, "inference kernel element " + i);
                assertEquals(expected, withGrad[i], 1e-5, "differentiable path element " + i);
            }
            GradCheck.check("batch_norm eval", () -> weighted(NormOps.batchNorm(x, gamma, beta, mean, var, false, 0.1, 1e-5), 12),
                    List.of(x, gamma, beta));
        }
    }

    @Test void batchNormRunningStatisticsFollowPyTorch() {
        int n = 4, c = 2, l = 3;
        float[] xv = random(n * c * l, 13, -2, 2);
        try (BatchNorm bn = BatchNorm.of1d(c); Scope s = Scope.open()) {
            bn.forward(Tensor.of(xv, n, c, l));
            for (int ch = 0; ch < c; ch++) {
                double sum = 0, sq = 0;
                for (int b = 0; b < n; b++) for (int i = 0; i < l; i++) sum += xv[(b * c + ch) * l + i];
                double mean = sum / (n * l);
                for (int b = 0; b < n; b++) for (int i = 0; i < l; i++) sq += Math.pow(xv[(b * c + ch) * l + i] - mean, 2);
                double unbiased = sq / (n * l - 1);
                assertEquals(0.1 * mean, bn.buffers().get(0).tensor().toArray()[ch], 1e-5, "running mean");
                assertEquals(0.9 + 0.1 * unbiased, bn.buffers().get(1).tensor().toArray()[ch], 1e-5, "running var");
            }
            bn.train(false);
            float[] before = bn.buffers().get(0).tensor().toArray();
            bn.forward(Tensor.of(xv, n, c, l));
            assertArrayEquals(before, bn.buffers().get(0).tensor().toArray(), "evaluation leaves the running stats alone");
            assertThrows(IllegalArgumentException.class, () -> bn.forward(Tensor.zeros(2, 3)));
        }
    }

    @Test void layerAndRmsNormGradients() {
        Tensor x = param(random(3 * 5, 14, -1, 1), 3, 5);
        Tensor gamma = param(random(5, 15, 0.5, 1.5), 5), beta = param(random(5, 16, -1, 1), 5);
        GradCheck.check("layer_norm", () -> weighted(NormOps.layerNorm(x, gamma, beta, 1e-5), 17), List.of(x, gamma, beta));
        GradCheck.check("rms_norm", () -> weighted(NormOps.rmsNorm(x, gamma, 1e-6), 18), List.of(x, gamma));
        try (LayerNorm rms = LayerNorm.rms(5); Scope s = Scope.open()) {
            float[] y = rms.forward(x).toArray(), xs = x.toArray();
            double ms = 0;
            for (int j = 0; j < 5; j++) ms += xs[j] * xs[j] / 5.0;
            assertEquals(xs[2] / Math.sqrt(ms + 1e-6), y[2], 1e-5, "rms_norm row 0");
            assertEquals(1, rms.parameters().size(), "RMSNorm has no beta");
        }
    }

    @Test void dropoutMasksAreSeededScaledAndOffInEvaluation() {
        Tensor x = param(random(2000, 19, 0.5, 1), 2000);
        try (Scope s = Scope.open()) {
            Dropout a = new Dropout(0.25, 3), b = new Dropout(0.25, 3);
            float[] ya = a.forward(x).toArray(), yb = b.forward(x).toArray(), xs = x.toArray();
            assertArrayEquals(ya, yb, "one seed, one mask");
            int dropped = 0;
            for (int i = 0; i < xs.length; i++) {
                if (ya[i] == 0) dropped++;
                else assertEquals(xs[i] / 0.75f, ya[i], 1e-6);
            }
            assertEquals(500, dropped, 70, "about p of the elements are dropped");
            assertFalse(java.util.Arrays.equals(ya, a.forward(x).toArray()), "each call draws a new mask");
            a.train(false);
            assertSame(x, a.forward(x));
        }
        Tensor small = param(random(12, 20, -1, 1), 3, 4);
        GradCheck.check("dropout", () -> weighted(new Dropout(0.5, 21).forward(small), 22), List.of(small));
    }

    @Test void transposedConvolutionIsTheAdjointOfConvolutionAndHasGradients() {
        SplittableRandom r = new SplittableRandom(23);
        try (ConvTranspose2d up = new ConvTranspose2d(2, 3, 3, 2, 1, 1, 1, r)) {
            Tensor x = param(random(2 * 2 * 3 * 3, 24, -1, 1), 2, 2, 3, 3);
            Tensor w = up.parameters().get(0).tensor(), bias = up.parameters().get(1).tensor();
            try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
                assertArrayEquals(new int[] {2, 3, 6, 6}, up.forward(x).shape(), "(3-1)*2 - 2 + 3 + 1 = 6");
                // <convT(x, w), y> = <x, conv(y, w)>: the transposed convolution is the adjoint of the regular one.
                Tensor y = Tensor.of(random(2 * 3 * 6 * 6, 25, -1, 1), 2, 3, 6, 6);
                double lhs = Ops.sum(Ops.mul(ConvOps.convTranspose2d(x, w, null, 2, 1, 1, 1), y)).item();
                Tensor conv = ConvOps.conv2d(y, w, null, 2, 1, 1, 1);
                assertArrayEquals(x.shape(), conv.shape());
                double rhs = Ops.sum(Ops.mul(x, conv)).item();
                assertEquals(rhs, lhs, 1e-4 * Math.max(1, Math.abs(rhs)));
            }
            GradCheck.check("conv_transpose2d", () -> weighted(up.forward(x), 26), List.of(x, w, bias));
        }
    }

    @Test void pixelShuffleRoundTripsAndHasGradients() {
        Tensor x = param(random(1 * 8 * 2 * 3, 27, -1, 1), 1, 8, 2, 3);
        try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
            Tensor up = ConvOps.pixelShuffle(x, 2);
            assertArrayEquals(new int[] {1, 2, 4, 6}, up.shape());
            float[] xs = x.toArray(), us = up.toArray();
            // dst[b][ch][y*f+i][x*f+j] = src[b][ch*f*f + i*f + j][y][x]: check one interior element by hand.
            assertEquals(xs[((1 * 4 + 1 * 2 + 0) * 2 + 1) * 3 + 2], us[(1 * 4 + (1 * 2 + 1)) * 6 + (2 * 2 + 0)]);
            assertArrayEquals(xs, ConvOps.pixelUnshuffle(up, 2).toArray());
        }
        GradCheck.check("pixel_shuffle", () -> weighted(ConvOps.pixelShuffle(x, 2), 28), List.of(x));
        GradCheck.check("pixel_unshuffle", () -> weighted(ConvOps.pixelUnshuffle(x.reshape(1, 2, 4, 6), 2), 29), List.of(x));
    }

    @Test void embeddingLooksUpRowsAndSumsRepeatedGradients() {
        try (Embedding emb = new Embedding(6, 3, new SplittableRandom(30))) {
            Tensor table = emb.parameters().getFirst().tensor();
            int[] ids = {4, 0, 4, 5};
            try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
                float[] t = table.toArray(), y = emb.lookup(ids).toArray();
                for (int i = 0; i < ids.length; i++)
                    for (int j = 0; j < 3; j++) assertEquals(t[ids[i] * 3 + j], y[i * 3 + j]);
                assertArrayEquals(new int[] {2, 2, 3}, emb.forward(Tensor.of(new float[] {4, 0, 4, 5}, 2, 2)).shape());
            }
            GradCheck.check("embedding", () -> weighted(emb.lookup(ids), 31), List.of(table));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> emb.lookup(new int[] {6}));
            assertTrue(e.getMessage().contains("id 6 at position 0 is outside 0..5"), e.getMessage());
        }
    }

    @Test void bceWithLogitsIsStableAndHasGradients() {
        Tensor logits = param(new float[] {-3, -0.5f, 0.25f, 2, 40, -40}, 2, 3);
        Tensor targets = Tensor.parameter(new float[] {0, 1, 0.5f, 1, 1, 0}, 2, 3);
        PARAMS.add(targets);
        try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
            float[] x = logits.toArray(), y = targets.toArray();
            double expected = 0;
            for (int i = 0; i < 6; i++) expected += Math.max(x[i], 0) - x[i] * y[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
            assertEquals(expected / 6, Losses.bceWithLogits(logits, targets).item(), 1e-6, "no overflow at |x| = 40");
        }
        Tensor moderate = param(random(6, 32, -3, 3), 2, 3);
        GradCheck.check("bce_with_logits", () -> Losses.bceWithLogits(moderate, targets), List.of(moderate));
    }

    @Test void residualAddsTheSkipPath() {
        try (Residual block = new Residual(new Sequential(new Linear(4, 4, new SplittableRandom(33)), LayerNorm.layer(4)))) {
            Tensor x = param(random(2 * 4, 34, -1, 1), 2, 4);
            List<Tensor> all = new ArrayList<>(tensors(block.parameters()));
            all.add(x);
            GradCheck.check("residual", () -> weighted(block.forward(x), 35), all);
            assertEquals(List.of("body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias"),
                    block.parameters().stream().map(Parameter::name).toList());
        }
    }

    @Test void checkpointsCarryBatchNormRunningStatistics() throws IOException {
        Path file = dir.resolve("bn.safetensors");
        try (Sequential a = new Sequential(new Linear(3, 2, new SplittableRandom(1)), BatchNorm.of1d(2));
             Sequential b = new Sequential(new Linear(3, 2, new SplittableRandom(2)), BatchNorm.of1d(2))) {
            try (Scope s = Scope.open()) {
                a.forward(Tensor.of(random(12, 36, -1, 1), 4, 3));
            }
            Checkpoint.save(file, a, null, Map.of());
            Checkpoint.load(file, b, null);
            assertEquals(List.of("1.running_mean", "1.running_var"), b.buffers().stream().map(Parameter::name).toList());
            for (int i = 0; i < 2; i++)
                assertArrayEquals(a.buffers().get(i).tensor().toArray(), b.buffers().get(i).tensor().toArray());
        }
    }
}
