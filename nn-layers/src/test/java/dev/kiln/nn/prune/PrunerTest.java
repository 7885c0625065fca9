package dev.kiln.nn.prune;

import dev.kiln.nn.Losses;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Activations;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.optim.Adam;
import dev.kiln.nn.optim.Optimizer;
import dev.kiln.nn.optim.Sgd;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Masks through real optimiser steps: pruned weights and their optimiser state stay exactly zero while the
 * kept weights train; and the pruned model on sparse kernels computes what it computes on dense ones.
 */
class PrunerTest {
    static final long SEED = 11;

    static Sequential model(SplittableRandom r) {
        return new Sequential(new Linear(12, 8, r), Activations.relu(), new Linear(8, 5, r));
    }

    /** One training step with the trainer's order of calls. */
    static void step(Sequential m, Optimizer opt, Pruner p, SplittableRandom r) {
        float[] x = new float[6 * 12];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        int[] y = new int[6];
        for (int i = 0; i < y.length; i++) y[i] = r.nextInt(5);
        try (Scope s = Scope.open()) {
            Losses.crossEntropy(m.forward(Tensor.of(x, 6, 12)), y).backward();
            p.beforeStep(opt.steps(), opt);
            opt.step();
            p.afterStep(opt);
        }
    }

    @Test void pruneWeightsAndTheirOptimiserStateStayZeroThroughSgdMomentumAndAdam() {
        for (String which : new String[] {"sgd", "adam", "adamw"}) {
            SplittableRandom r = new SplittableRandom(SEED);
            try (Sequential m = model(r)) {
                List<Parameter> params = m.parameters();
                try (Optimizer opt = switch (which) {
                        case "sgd" -> new Sgd(params, 0.1, 0.9, 1e-3, false);
                        case "adam" -> new Adam(params, 0.01, 0.9, 0.999, 1e-8, 1e-3, false);
                        default -> Adam.adamW(params, 0.01);
                    };
                     // Dense for steps 0-1, masks at steps 2 and 4 (the target), fine-tuning after.
                     Pruner p = new Pruner(params, PruneSpec.global(0.6), new PruneSchedule(0, 0.6, 2, 4, 2))) {
                    assertEquals(2, p.targets().size(), "the two weight matrices; biases are not pruned");
                    float[][] before = null;
                    for (int t = 0; t < 9; t++) {
                        step(m, opt, p, r);
                        if (t < 2) {
                            for (Parameter w : p.targets()) for (float v : w.tensor().toArray()) assertNotEquals(0f, v, which + " dense at step " + t);
                            continue;
                        }
                        float[][] now = new float[2][];
                        for (int i = 0; i < 2; i++) {
                            boolean[] kept = p.kept(i);
                            now[i] = p.targets().get(i).tensor().toArray();
                            for (int j = 0; j < kept.length; j++) if (!kept[j]) assertTrue(now[i][j] == 0f, which + " weight " + i + "/" + j + " at step " + t + ": " + now[i][j]);
                            String name = p.targets().get(i).name();
                            for (Parameter st : opt.state()) {
                                if (!st.name().endsWith("." + name) || st.name().indexOf('.') != st.name().length() - name.length() - 1) continue;
                                float[] v = st.tensor().toArray();
                                for (int j = 0; j < kept.length; j++) if (!kept[j]) assertTrue(v[j] == 0f, which + " " + st.name() + "[" + j + "] at step " + t + ": " + v[j]);
                            }
                        }
                        if (t >= 5) {
                            // Masks are final after step 4: the kept weights still move, the pruned ones do not.
                            int moved = 0;
                            for (int i = 0; i < 2; i++) for (int j = 0; j < now[i].length; j++) if (now[i][j] != before[i][j]) moved++;
                            assertTrue(moved > 0, which + ": training goes on at step " + t);
                        }
                        before = now;
                    }
                    double overall = Pruner.overall(p.report());
                    assertEquals(Math.round(0.6 * (12 * 8 + 8 * 5)) / (double) (12 * 8 + 8 * 5), overall, 1e-12, which);
                }
            }
        }
    }

    @Test void masksOnlyGrowAndTheMetadataRoundTrips() {
        SplittableRandom r = new SplittableRandom(SEED);
        try (Sequential m = model(r); Pruner p = new Pruner(m.parameters(), PruneSpec.layerWise(0.5), new PruneSchedule(0, 0.5, 0, 10, 5))) {
            p.pruneTo(0.25, null);
            boolean[] first = p.kept(0);
            p.pruneTo(0.5, null);
            boolean[] second = p.kept(0);
            int pruned = 0;
            for (int j = 0; j < first.length; j++) {
                if (!first[j]) assertFalse(second[j], "element " + j + " came back");
                if (!second[j]) pruned++;
            }
            assertEquals(48, pruned);
            try (Pruner back = Pruner.fromMetadata(p.metadata(), m.parameters(), "test")) {
                assertEquals(p.spec(), back.spec());
                assertEquals(p.schedule(), back.schedule());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Pruner.fromMetadata(java.util.Map.of("prune.spec", "global:2"), m.parameters(), "checkpoint x"));
            assertTrue(e.getMessage().startsWith("checkpoint x: bad pruning metadata"), e.getMessage());
        }
    }

    /** conv (dilated, strided) - ReLU - maxpool - flatten - linear - ReLU - linear: awkward sizes throughout. */
    static Sequential convModel(SplittableRandom r) {
        return new Sequential(new Conv2d(3, 4, 3, 2, 2, 2, 1, r), Activations.relu(), Activations.maxPool2d(2, 1), Activations.flatten(),
                new Linear(4 * 4 * 4, 12, r), Activations.relu(), new Linear(12, 5, r));
    }

    @Test void sparseInferenceEqualsDenseInferenceOfTheMaskedModel() {
        for (PruneSpec spec : new PruneSpec[] {PruneSpec.global(0.7), PruneSpec.layerWise(0.9), PruneSpec.twoFour()}) {
            SplittableRandom r = new SplittableRandom(SEED);
            try (Sequential m = convModel(r); Pruner p = new Pruner(m.parameters(), spec, new PruneSchedule(0, spec.sparsity(), 0, 0, 1))) {
                p.pruneTo(spec.sparsity(), null);
                int n = 33; // awkward (several im2col chunks: SparseInferenceTest)
                float[] x = new float[n * 3 * 9 * 9];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                try (Scope s = Scope.open(); SparseInference si = SparseInference.of(m, p)) {
                    float[] dense = m.forward(Tensor.of(x, n, 3, 9, 9)).toArray();
                    float[] sparse = si.forward(Tensor.of(x, n, 3, 9, 9)).toArray();
                    assertEquals(dense.length, sparse.length);
                    double scale = 0;
                    for (float v : dense) scale = Math.max(scale, Math.abs(v));
                    assertTrue(scale > 0.01, "a mistrusted comparison: the outputs are almost all zero");
                    for (int i = 0; i < dense.length; i++)
                        assertEquals(dense[i], sparse[i], 1e-5 * Math.max(1, scale), spec + " seed " + SEED + " output " + i);
                    List<String> how = si.describe();
                    assertEquals(3, how.size(), how.toString());
                    if (spec.method() == PruneSpec.Method.TWO_FOUR) {
                        assertTrue(how.get(0).contains("csr"), "27-long conv rows cannot be 2:4: " + how);
                        assertTrue(how.get(1).contains("2:4") && how.get(2).contains("2:4"), how.toString());
                    }
                }
                // The kiln train policy: CSR only from 70% zeros, 2:4 always; the rest dense, with the same result.
                try (Scope s = Scope.open(); SparseInference mixed = SparseInference.of(m, p, SparseInference.DEFAULT_MIN_SPARSITY)) {
                    List<String> how = mixed.describe();
                    int denseLayers = 0;
                    for (int i = 0; i < 3; i++) {
                        int zeros = 0;
                        for (boolean k : p.kept(i)) if (!k) zeros++;
                        boolean sparse = p.twoFour(i) || zeros >= 0.7 * p.kept(i).length;
                        assertEquals(!sparse, how.get(i).contains("dense ("), spec + " layer " + i + ": " + how);
                        if (!sparse) denseLayers++;
                    }
                    assertTrue(denseLayers < 3, spec + ": something runs sparse " + how);
                    float[] dense = m.forward(Tensor.of(x, n, 3, 9, 9)).toArray(), sparse = mixed.forward(Tensor.of(x, n, 3, 9, 9)).toArray();
                    for (int i = 0; i < dense.length; i++) assertEquals(dense[i], sparse[i], 1e-4, spec + " mixed output " + i);
                }
            }
        }
    }

    @Test void im2colMatchesItsDefinition() {
        // One 2-channel 3x4 image, 2x2 kernel, stride 1, pad 1, dilation 1: P = 4, Q = 5.
        float[] x = new float[24];
        for (int i = 0; i < x.length; i++) x[i] = i + 1;
        int p = 4, q = 5;
        float[] cols = new float[2 * 2 * 2 * p * q];
        SparseInference.im2col(x, 0, 2, 3, 4, 2, 2, 1, 1, 1, p, q, cols, p * q, 0);
        for (int ch = 0; ch < 2; ch++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    for (int op = 0; op < p; op++)
                        for (int oq = 0; oq < q; oq++) {
                            int y = op - 1 + i, xx = oq - 1 + j;
                            float want = y < 0 || y >= 3 || xx < 0 || xx >= 4 ? 0 : x[(ch * 3 + y) * 4 + xx];
                            assertEquals(want, cols[((ch * 2 + i) * 2 + j) * p * q + op * q + oq]);
                        }
    }
}
