package dev.kiln.nn;

import dev.kiln.nn.layers.MultiHeadAttention;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.layers.TransformerBlock;
import dev.kiln.nn.layers.TransformerBlock.NormPlacement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.kiln.nn.AutogradTest.weighted;
import static dev.kiln.nn.GradCheck.random;
import static org.junit.jupiter.api.Assertions.*;

/** Attention's pieces against host loops and finite differences; the blocks in all three norm placements. */
class AttentionTest {
    private static final List<Tensor> PARAMS = new ArrayList<>();

    static Tensor param(float[] v, int... shape) {
        Tensor t = Tensor.parameter(v, shape);
        PARAMS.add(t);
        return t;
    }

    @AfterAll static void release() { PARAMS.forEach(Tensor::close); }

    @Test void batchedProductsMatchLoopsAndHaveGradients() {
        Tensor a = param(random(2 * 3 * 4, 1, -1, 1), 2, 3, 4);
        Tensor b = param(random(2 * 4 * 5, 2, -1, 1), 2, 4, 5);
        Tensor bt = param(random(2 * 5 * 4, 3, -1, 1), 2, 5, 4);
        try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
            float[] av = a.toArray(), bv = b.toArray(), btv = bt.toArray();
            float[] c = AttentionOps.bmm(a, b, false, 0.5f).toArray(), ct = AttentionOps.bmm(a, bt, true, 1f).toArray();
            for (int i = 0; i < 2; i++)
                for (int r = 0; r < 3; r++)
                    for (int j = 0; j < 5; j++) {
                        double sum = 0, sumT = 0;
                        for (int p = 0; p < 4; p++) {
                            sum += av[(i * 3 + r) * 4 + p] * bv[(i * 4 + p) * 5 + j];
                            sumT += av[(i * 3 + r) * 4 + p] * btv[(i * 5 + j) * 4 + p];
                        }
                        assertEquals(0.5 * sum, c[(i * 3 + r) * 5 + j], 1e-5);
                        assertEquals(sumT, ct[(i * 3 + r) * 5 + j], 1e-5);
                    }
        }
        GradCheck.check("bmm", () -> weighted(AttentionOps.bmm(a, b, false, 0.5f), 4), List.of(a, b));
        GradCheck.check("bmm b^T", () -> weighted(AttentionOps.bmm(a, bt, true, 1.5f), 5), List.of(a, bt));
    }

    @Test void softmaxAndHeadMovesHaveGradients() {
        Tensor x = param(random(2 * 3 * 4, 6, -2, 2), 2, 3, 4);
        GradCheck.check("softmax", () -> weighted(AttentionOps.softmax(x), 7), List.of(x));
        Tensor rows = param(random(5 * 6, 8, -1, 1), 5, 6);
        try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
            Tensor split = AttentionOps.splitHeads(rows, 3);
            assertArrayEquals(new int[] {3, 5, 2}, split.shape());
            float[] xv = rows.toArray(), sv = split.toArray();
            for (int h = 0; h < 3; h++)
                for (int r = 0; r < 5; r++)
                    for (int i = 0; i < 2; i++) assertEquals(xv[r * 6 + h * 2 + i], sv[(h * 5 + r) * 2 + i], "head " + h + " row " + r);
            assertArrayEquals(xv, AttentionOps.mergeHeads(split).toArray(), "merge undoes split exactly");
            float[] p = AttentionOps.softmax(x).toArray();
            for (int r = 0; r < 6; r++) {
                double sum = 0;
                for (int j = 0; j < 4; j++) sum += p[r * 4 + j];
                assertEquals(1, sum, 1e-6);
            }
        }
        GradCheck.check("split_heads", () -> weighted(AttentionOps.splitHeads(rows, 3), 9), List.of(rows));
        GradCheck.check("merge_heads", () -> weighted(AttentionOps.mergeHeads(rows.reshape(3, 5, 2)), 10), List.of(rows));
    }

    @Test void multiHeadAttentionMatchesAHostReference() {
        for (boolean causal : new boolean[] {false, true}) {
            int batch = 2, t = 3, d = 4, heads = 2, dh = 2;
            try (MultiHeadAttention mha = new MultiHeadAttention(d, heads, causal, new SplittableRandom(11));
                 Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
                float[] xv = random(batch * t * d, 12, -1, 1);
                float[] y = mha.forward(Tensor.of(xv, batch, t, d)).toArray();
                List<float[]> w = mha.parameters().stream().map(p -> p.tensor().toArray()).toList();
                for (int b = 0; b < batch; b++) {
                    double[][] q = project(xv, b, t, d, w.get(0), w.get(1)), k = project(xv, b, t, d, w.get(2), w.get(3)),
                            v = project(xv, b, t, d, w.get(4), w.get(5));
                    double[][] concat = new double[t][d];
                    for (int h = 0; h < heads; h++)
                        for (int i = 0; i < t; i++) {
                            double[] score = new double[t];
                            double max = Double.NEGATIVE_INFINITY, z = 0;
                            for (int j = 0; j < t; j++) {
                                for (int e = 0; e < dh; e++) score[j] += q[i][h * dh + e] * k[j][h * dh + e] / Math.sqrt(dh);
                                if (causal && j > i) score[j] = Double.NEGATIVE_INFINITY;
                                max = Math.max(max, score[j]);
                            }
                            for (int j = 0; j < t; j++) z += Math.exp(score[j] - max);
                            for (int j = 0; j < t; j++)
                                for (int e = 0; e < dh; e++) concat[i][h * dh + e] += Math.exp(score[j] - max) / z * v[j][h * dh + e];
                        }
                    for (int i = 0; i < t; i++)
                        for (int o = 0; o < d; o++) {
                            double sum = w.get(7)[o];
                            for (int e = 0; e < d; e++) sum += concat[i][e] * w.get(6)[o * d + e];
                            assertEquals(sum, y[(b * t + i) * d + o], 1e-5, "causal=" + causal + " batch " + b + " t " + i + " out " + o);
                        }
                }
            }
        }
    }

    /** x[b] W^T + bias on the host: t x d. */
    static double[][] project(float[] x, int b, int t, int d, float[] w, float[] bias) {
        double[][] out = new double[t][d];
        for (int i = 0; i < t; i++)
            for (int o = 0; o < d; o++) {
                out[i][o] = bias[o];
                for (int e = 0; e < d; e++) out[i][o] += x[(b * t + i) * d + e] * w[o * d + e];
            }
        return out;
    }

    @ParameterizedTest @EnumSource(NormPlacement.class)
    void transformerBlocksHaveGradients(NormPlacement placement) {
        try (TransformerBlock block = new TransformerBlock(4, 2, 8, true, placement, new SplittableRandom(13))) {
            Tensor x = param(random(1 * 3 * 4, 14, -1, 1), 1, 3, 4);
            // The key bias adds q.b to every score of a row, which softmax ignores: its gradient is truly zero.
            List<Tensor> all = new ArrayList<>(block.parameters().stream().filter(p -> !p.name().equals("attn.k.bias"))
                    .map(Parameter::tensor).toList());
            all.add(x);
            GradCheck.check("transformer block " + placement, () -> weighted(block.forward(x), 15), all);
            try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
                // Causal: changing the last position leaves the first one's output alone.
                float[] changed = x.toArray();
                changed[8] += 1;
                float[] y1 = block.forward(x).toArray(), y2 = block.forward(Tensor.of(changed, 1, 3, 4)).toArray();
                for (int o = 0; o < 4; o++) assertEquals(y1[o], y2[o], 1e-6, "position 0 must not see position 2");
                assertNotEquals(y1[8], y2[8]);
            }
            assertEquals(placement == NormPlacement.PERI ? 20 : 16, block.parameters().size());
        }
    }
}
