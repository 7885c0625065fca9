package dev.kiln.nn.prune;

import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Activations;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Sequential;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The sparse model against the dense masked model on seeded weights of awkward sizes: with every pruned layer
 * forced sparse (the im2col paths: stride 1 on the padded grid with dilation, stride 2 the row-by-row way, images
 * split over several chunks), and with the per-layer choice timed ({@link SparseInference#calibrated}).
 */
class SparseInferenceTest {
    static final long SEED = 23;

    /** Stride 1 dilated (padded-grid im2col, more than one chunk), stride 2, then linear layers; awkward sizes. */
    static Sequential model(SplittableRandom r) {
        return new Sequential(new Conv2d(5, 4, 5, 1, 3, 2, 1, r), Activations.relu(), new Conv2d(4, 7, 3, 2, 1, r), Activations.relu(),
                Activations.maxPool2d(4, 4), Activations.flatten(), new Linear(7 * 7 * 7, 13, r), Activations.relu(), new Linear(13, 3, r));
    }

    static final int N = 5, C = 5, H = 61, W = 57;

    static float[] input(SplittableRandom r) {
        float[] x = new float[N * C * H * W];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static void assertClose(float[] dense, float[] sparse, String what) {
        assertEquals(dense.length, sparse.length, what);
        double scale = 0;
        for (float v : dense) scale = Math.max(scale, Math.abs(v));
        assertTrue(scale > 0.01, "a mistrusted comparison: the outputs are almost all zero (" + what + ")");
        for (int i = 0; i < dense.length; i++) assertEquals(dense[i], sparse[i], 2e-5 * Math.max(1, scale), what + " seed " + SEED + " output " + i);
    }

    @Test void theChunksOfTheFirstLayerAreSeveral() {
        // 5*5*5 rows of 57 (output rows) x (57 + 6) (padded width) columns per image: 448875 floats, two images a chunk
        int perImage = 5 * 5 * 5 * 57 * (W + 6);
        assertEquals(2, SparseInference.chunkImages(N, 5 * 5 * 5, 57 * (W + 6)), "per image " + perImage);
    }

    @Test void everyPrunedLayerOnSparseKernelsEqualsTheDenseMaskedModel() {
        for (PruneSpec spec : new PruneSpec[] {PruneSpec.global(0.6), PruneSpec.layerWise(0.9), PruneSpec.twoFour()}) {
            SplittableRandom r = new SplittableRandom(SEED);
            try (Sequential m = model(r); Pruner p = new Pruner(m.parameters(), spec, new PruneSchedule(0, spec.sparsity(), 0, 0, 1))) {
                p.pruneTo(spec.sparsity(), null);
                float[] x = input(r);
                try (Scope s = Scope.open(); SparseInference si = SparseInference.of(m, p)) {
                    assertClose(m.forward(Tensor.of(x, N, C, H, W)).toArray(), si.forward(Tensor.of(x, N, C, H, W)).toArray(), spec + " forced sparse");
                    List<LayerChoice> choices = si.choices();
                    assertEquals(4, choices.size(), choices.toString());
                    for (LayerChoice c : choices) assertTrue(c.sparse(), c.toString());
                    if (spec.method() == PruneSpec.Method.TWO_FOUR) // rows of 125, 36, 343 and 13: only the 36-long ones are 2:4
                        assertEquals(List.of("csr", "2:4", "csr", "csr"), choices.stream().map(c -> c.format().split(" ")[0]).toList());
                }
            }
        }
    }

    @Test void theTimedChoiceIsTheFasterFormAndComputesTheSame() {
        for (PruneSpec spec : new PruneSpec[] {PruneSpec.layerWise(0.95), PruneSpec.twoFour()}) {
            SplittableRandom r = new SplittableRandom(SEED);
            try (Sequential m = model(r); Pruner p = new Pruner(m.parameters(), spec, new PruneSchedule(0, spec.sparsity(), 0, 0, 1))) {
                p.pruneTo(spec.sparsity(), null);
                float[] x = input(r);
                try (Scope s = Scope.open(); SparseInference si = SparseInference.calibrated(m, p, N, C, H, W)) {
                    List<LayerChoice> choices = si.choices();
                    assertEquals(List.of(0, 2, 6, 8), choices.stream().map(LayerChoice::layer).toList());
                    for (LayerChoice c : choices) {
                        assertTrue(c.denseMs() > 0 && c.sparseMs() > 0 && Double.isFinite(c.ratio()), c.toString());
                        assertEquals(c.sparseMs() < SparseInference.SPARSE_MARGIN * c.denseMs(), c.sparse(), c.toString());
                        String how = si.describe(c.layer());
                        assertEquals(!c.sparse(), how.contains(": dense ("), how);
                        if (c.format().startsWith("2:4")) assertEquals(0.5, c.sparsity(), 1e-9, c.toString());
                        else if (spec.method() != PruneSpec.Method.TWO_FOUR) assertTrue(c.sparsity() >= 0.9, c.toString());
                    }
                    assertClose(m.forward(Tensor.of(x, N, C, H, W)).toArray(), si.forward(Tensor.of(x, N, C, H, W)).toArray(), spec + " timed choice");
                }
            }
        }
    }

    @Test void paddedGridColumnsHoldEveryTapOfTheirOutput() {
        // 3 channels of 6 x 7, 3 x 3 kernel, pad 2, dilation 2: P = 6, Q = 7, padded width 11
        int c = 3, h = 6, w = 7, r = 3, s = 3, pad = 2, dil = 2, p = 6, q = 7, wp = w + 2 * pad;
        float[] x = new float[c * h * w];
        SplittableRandom random = new SplittableRandom(SEED);
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        int width = p * wp + 3; // one image at column 3 of a wider matrix
        float[] cols = new float[c * r * s * width], padded = new float[c * (h + 2 * pad) * wp + (s - 1) * dil];
        java.util.Arrays.fill(padded, Float.NaN); // poisoned: every element it is read at must have been written
        java.util.Arrays.fill(cols, Float.NaN);
        SparseInference.paddedIm2col(x, 0, c, h, w, r, s, pad, dil, p, padded, cols, width, 3);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < s; j++)
                    for (int op = 0; op < p; op++)
                        for (int oq = 0; oq < q; oq++) {
                            int y = op - pad + i * dil, xx = oq - pad + j * dil;
                            float want = y < 0 || y >= h || xx < 0 || xx >= w ? 0 : x[(ch * h + y) * w + xx];
                            assertEquals(want, cols[((ch * r + i) * s + j) * width + 3 + op * wp + oq], "tap " + ch + "," + i + "," + j + " at " + op + "," + oq);
                        }
    }
}
