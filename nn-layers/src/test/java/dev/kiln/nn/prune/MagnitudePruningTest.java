package dev.kiln.nn.prune;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The mask arithmetic against hand computations, and its invariants on seeded random weights. */
class MagnitudePruningTest {
    private static final boolean T = true, F = false;

    @Test void globalUsesOneThresholdUntilALayerReachesItsMinimum() {
        // All of A is smaller than all of B: one threshold at 50% would kill A entirely.
        float[][] w = {{0.01f, -0.02f, 0.03f, -0.04f}, {0.5f, -0.05f, 0.6f, 0.06f, -0.7f, 0.07f}};
        // minKeep 0.01: each layer keeps at least 1, so A loses 3 and B its 0.05 and 0.06.
        boolean[][] loose = MagnitudePruning.global(w, null, 0.5, 0.01);
        assertArrayEquals(new boolean[] {F, F, F, T}, loose[0]);
        assertArrayEquals(new boolean[] {T, F, T, F, T, T}, loose[1]);
        // minKeep 0.5: A keeps 2 (its 0.03 and 0.04 survive although smaller than anything kept in B), and the two
        // weights A may no longer lose go to B's next smallest, 0.06 and 0.07: still 5 of 10 pruned.
        boolean[][] floor = MagnitudePruning.global(w, null, 0.5, 0.5);
        assertArrayEquals(new boolean[] {F, F, T, T}, floor[0]);
        assertArrayEquals(new boolean[] {T, F, T, F, T, F}, floor[1]);
        // When every layer is at its floor the target cannot be met: A and B each lose 1 (minKeep 0.75: 3 of 4, 5 of 6 kept).
        boolean[][] stuck = MagnitudePruning.global(w, null, 0.5, 0.75);
        assertArrayEquals(new boolean[] {F, T, T, T}, stuck[0]);
        assertArrayEquals(new boolean[] {T, F, T, T, T, T}, stuck[1]);
    }

    @Test void alreadyPrunedWeightsStayPrunedAndTiesGoToTheLowerIndex() {
        float[][] w = {{0.9f, 0.1f, -0.1f, 0.1f, 0.2f}};
        boolean[][] before = {{F, T, T, T, T}};
        // 0.9 was pruned earlier (its weight would be zero in training; here it is not, to show the mask wins).
        boolean[][] kept = MagnitudePruning.global(w, before, 0.4, 0.01);
        assertArrayEquals(new boolean[] {F, F, T, T, T}, kept[0], "0.9 first, then the first of the three 0.1s");
        assertArrayEquals(new boolean[] {F, F, F, T, T}, MagnitudePruning.layerWise(w, before, 0.6)[0]);
    }

    @Test void layerWisePrunesTheSameFractionOfEveryLayer() {
        float[][] w = {{0.3f, -0.1f, 0.2f, 0.4f}, {5f, 1f, -3f, 2f, -4f, 6f}};
        boolean[][] kept = MagnitudePruning.layerWise(w, null, 0.5);
        assertArrayEquals(new boolean[] {T, F, F, T}, kept[0]);
        assertArrayEquals(new boolean[] {T, F, F, F, T, T}, kept[1]);
        assertArrayEquals(new boolean[] {F, F, F, T}, MagnitudePruning.layerWise(w, null, 0.99)[0], "a layer keeps at least one weight");
    }

    @Test void twoFourKeepsTheTwoLargestOfEveryFourAlongTheRow() {
        // Two rows of 8: four groups.
        float[][] w = {{0.1f, -0.5f, 0.3f, 0.2f, 0.9f, 0.05f, -0.06f, 0.8f,
                        -1f, 1f, 0.5f, -0.25f, 0f, 0.01f, -0.03f, 0.02f}};
        boolean[][] full = MagnitudePruning.twoFour(w, new int[] {8}, null, 1);
        assertArrayEquals(new boolean[] {F, T, T, F, T, F, F, T, T, T, F, F, F, F, T, T}, full[0]);
        // Half way: the candidates are 0.1, 0.2 | 0.05, 0.06 | 0.5, 0.25 | 0, 0.01; the 4 smallest go.
        boolean[][] half = MagnitudePruning.twoFour(w, new int[] {8}, null, 0.5);
        assertArrayEquals(new boolean[] {T, T, T, T, T, F, F, T, T, T, T, T, F, F, T, T}, half[0]);
        // Rows of 6 cannot be grouped in fours: left dense.
        boolean[][] skipped = MagnitudePruning.twoFour(new float[][] {new float[12]}, new int[] {6}, null, 1);
        for (boolean k : skipped[0]) assertTrue(k);
        assertFalse(MagnitudePruning.twoFourApplies(32 * 25, 25), "the cnn's first convolution (1x5x5 rows)");
        assertTrue(MagnitudePruning.twoFourApplies(128 * 3136, 3136));
    }

    @Test void randomWeightsKeepTheInvariants() {
        long seed = 20261123;
        SplittableRandom r = new SplittableRandom(seed);
        int[] sizes = {7, 33, 257, 1000};
        float[][] w = new float[sizes.length][];
        for (int l = 0; l < sizes.length; l++) {
            w[l] = new float[sizes[l] * 4];
            double scale = 1.0 / (l + 1); // later layers smaller, so the floor binds for them
            for (int i = 0; i < w[l].length; i++) w[l][i] = (float) (r.nextGaussian() * scale);
        }
        boolean[][] kept = MagnitudePruning.global(w, null, 0.9, 0.05);
        long pruned = 0, total = 0;
        float minKeptFree = Float.MAX_VALUE, maxPrunedFree = 0;
        for (int l = 0; l < w.length; l++) {
            int keptHere = 0;
            for (int i = 0; i < w[l].length; i++) {
                if (kept[l][i]) keptHere++;
                else pruned++;
            }
            total += w[l].length;
            int floor = MagnitudePruning.floor(w[l].length, 0.05);
            assertTrue(keptHere >= floor, "seed " + seed + " layer " + l + " keeps " + keptHere + " < " + floor);
            boolean atFloor = keptHere == floor;
            for (int i = 0; i < w[l].length; i++) {
                float a = Math.abs(w[l][i]);
                if (!atFloor && kept[l][i]) minKeptFree = Math.min(minKeptFree, a);
                if (!kept[l][i]) maxPrunedFree = Math.max(maxPrunedFree, a);
            }
        }
        assertEquals(Math.round(0.9 * total), pruned, "seed " + seed);
        // One threshold: every weight kept in a layer above its floor outweighs every pruned weight.
        assertTrue(minKeptFree >= maxPrunedFree, "seed " + seed + ": kept " + minKeptFree + " < pruned " + maxPrunedFree);

        boolean[][] structured = MagnitudePruning.twoFour(w, new int[] {28, 132, 1028, 4000}, null, 1);
        for (int l = 0; l < w.length; l++)
            for (int g = 0; g < w[l].length; g += 4) {
                int k = 0;
                float minKept = Float.MAX_VALUE, maxDropped = 0;
                for (int j = 0; j < 4; j++) {
                    float a = Math.abs(w[l][g + j]);
                    if (structured[l][g + j]) { k++; minKept = Math.min(minKept, a); }
                    else maxDropped = Math.max(maxDropped, a);
                }
                assertEquals(2, k, "seed " + seed + " layer " + l + " group " + g / 4);
                assertTrue(minKept >= maxDropped, "seed " + seed + " layer " + l + " group " + g / 4);
            }
    }

    @Test void specsParseAndBadOnesSayWhatIsExpected() {
        assertEquals(PruneSpec.global(0.9), PruneSpec.parse("global:0.9"));
        assertEquals(PruneSpec.layerWise(0.5), PruneSpec.parse("layer:0.5"));
        assertEquals(PruneSpec.twoFour(), PruneSpec.parse("2:4"));
        assertEquals("global:0.9", PruneSpec.global(0.9).toString());
        for (String[] bad : new String[][] {{"global:1.5", "sparsity 1.5 in 'global:1.5' is outside [0, 1)"},
                {"foo", "unknown method 'foo'"}, {"global", "gives no sparsity"}, {"layer:x", "'x' in 'layer:x' is not a number"},
                {"global:-0.1", "outside [0, 1)"}, {"3:4", "unknown method '3:4'"}, {"", "empty"}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PruneSpec.parse(bad[0]), bad[0]);
            assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
            assertTrue(e.getMessage().contains("2:4"), "lists the accepted forms: " + e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new PruneSpec(PruneSpec.Method.GLOBAL, 0.9, 0));
    }

    @Test void theCubicScheduleRisesFastThenSlowly() {
        PruneSchedule s = PruneSchedule.forRun(0.9, 100);
        assertEquals(20, s.start());
        assertEquals(60, s.end());
        assertEquals(2, s.every());
        assertEquals(0, s.sparsityAt(0));
        assertEquals(0, s.sparsityAt(20));
        assertEquals(0.9 - 0.9 / 8, s.sparsityAt(40), 1e-12, "half way: s_f + (s_i - s_f) (1/2)^3");
        assertEquals(0.9 - 0.9 * Math.pow(0.75, 3), s.sparsityAt(30), 1e-12);
        assertEquals(0.9, s.sparsityAt(60));
        assertEquals(0.9, s.sparsityAt(99));
        assertTrue(s.prunesAt(20) && s.prunesAt(22) && s.prunesAt(58) && s.prunesAt(60));
        assertFalse(s.prunesAt(19) || s.prunesAt(21) || s.prunesAt(61));
        // The default run: 5 epochs of 938 steps.
        PruneSchedule run = PruneSchedule.forRun(0.9, 5 * 938);
        assertEquals(938, run.start());
        assertEquals(2814, run.end());
        assertEquals(117, run.every());
        assertThrows(IllegalArgumentException.class, () -> new PruneSchedule(0, 0.9, 10, 5, 1));
        assertThrows(IllegalArgumentException.class, () -> new PruneSchedule(0.5, 0.4, 0, 5, 1));
    }
}
