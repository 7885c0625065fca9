package dev.kiln.nn.prune;

import java.util.Arrays;

/**
 * Which weights to keep, from their magnitudes: plain loops over host arrays, so the choice is exact,
 * deterministic and testable by hand. Every method takes the masks in force ({@code keptBefore}, null: all
 * kept) and treats weights already pruned as smaller than any other, so a rising sparsity only ever adds
 * to the pruned set. Ties between equal magnitudes go to the lower index (the earlier layer, then the
 * earlier element), which makes the result independent of sort stability.
 */
public final class MagnitudePruning {
    private MagnitudePruning() {}

    /**
     * Global magnitude pruning: drops the {@code round(sparsity * N)} smallest weights of all N, as one
     * threshold across layers would, except that a layer stops losing weights once only
     * {@code max(1, ceil(minKeep * n))} of its n remain; the weights it would have lost go to the next
     * smallest elsewhere (so the total still comes to the target unless every layer is at its floor).
     *
     * @return per layer, true where the weight is kept
     */
    public static boolean[][] global(float[][] weights, boolean[][] keptBefore, double sparsity, double minKeep) {
        int layers = weights.length;
        long[] offset = new long[layers + 1];
        for (int l = 0; l < layers; l++) offset[l + 1] = offset[l] + weights[l].length;
        long total = offset[layers];
        if (total > Integer.MAX_VALUE) throw new IllegalArgumentException("prune: " + total + " weights are more than one sort can rank");
        long[] keys = new long[(int) total];
        for (int l = 0; l < layers; l++)
            for (int i = 0; i < weights[l].length; i++) keys[(int) (offset[l] + i)] = key(weights[l], keptBefore == null ? null : keptBefore[l], i, offset[l] + i);
        Arrays.sort(keys);
        long target = Math.round(sparsity * total);
        int[] pruned = new int[layers], cap = new int[layers];
        for (int l = 0; l < layers; l++) cap[l] = weights[l].length - floor(weights[l].length, minKeep);
        boolean[][] kept = allKept(weights);
        long done = 0;
        for (int r = 0; r < keys.length && done < target; r++) {
            int g = (int) (keys[r] & 0xFFFFFFFFL);
            int l = layerOf(offset, g);
            if (pruned[l] >= cap[l]) continue;
            kept[l][(int) (g - offset[l])] = false;
            pruned[l]++;
            done++;
        }
        return kept;
    }

    /** Layer-wise magnitude pruning: each layer drops its {@code round(sparsity * n)} smallest weights (at most n - 1). */
    public static boolean[][] layerWise(float[][] weights, boolean[][] keptBefore, double sparsity) {
        boolean[][] kept = allKept(weights);
        for (int l = 0; l < weights.length; l++) {
            int n = weights[l].length;
            long[] keys = new long[n];
            for (int i = 0; i < n; i++) keys[i] = key(weights[l], keptBefore == null ? null : keptBefore[l], i, i);
            Arrays.sort(keys);
            long drop = Math.min(Math.round(sparsity * n), n - 1L);
            for (int r = 0; r < drop; r++) kept[l][(int) (keys[r] & 0xFFFFFFFFL)] = false;
        }
        return kept;
    }

    /**
     * 2:4 pruning along rows of {@code rowLength[l]} weights (the input dimension: {@code in} for a Linear
     * weight, C*R*S for a convolution's): in every group of four consecutive weights of a row the two
     * smallest are candidates, and the {@code round(fraction * candidates)} smallest candidates of the layer
     * are dropped, so {@code fraction = 1} gives the exact 2:4 pattern and smaller fractions approach it
     * gradually. Layers whose rows are not a multiple of 4 long are left dense ({@link #twoFourApplies}).
     */
    public static boolean[][] twoFour(float[][] weights, int[] rowLength, boolean[][] keptBefore, double fraction) {
        boolean[][] kept = allKept(weights);
        for (int l = 0; l < weights.length; l++) {
            if (!twoFourApplies(weights[l].length, rowLength[l])) continue;
            float[] w = weights[l];
            boolean[] before = keptBefore == null ? null : keptBefore[l];
            long[] candidates = new long[w.length / 2];
            long[] group = new long[4];
            int c = 0;
            for (int g = 0; g < w.length; g += 4) {
                for (int j = 0; j < 4; j++) group[j] = key(w, before, g + j, g + j);
                Arrays.sort(group);
                candidates[c++] = group[0];
                candidates[c++] = group[1];
            }
            Arrays.sort(candidates);
            long drop = Math.round(Math.min(1, fraction) * candidates.length);
            for (int r = 0; r < drop; r++) kept[l][(int) (candidates[r] & 0xFFFFFFFFL)] = false;
        }
        return kept;
    }

    /** Whether 2:4 can structure a weight of {@code count} elements in rows of {@code rowLength}. */
    public static boolean twoFourApplies(int count, int rowLength) {
        return rowLength > 0 && rowLength % 4 == 0 && count % rowLength == 0;
    }

    /** Weights a layer of n keeps at least: {@code max(1, ceil(minKeep * n))} (the epsilon absorbs 0.05 * 800 = 40.000000000000004). */
    static int floor(int n, double minKeep) {
        return (int) Math.max(1, Math.min(n, Math.ceil(minKeep * n - 1e-9)));
    }

    /**
     * A sort key ordering by magnitude, then by {@code index}: the bits of |w| (non-negative floats order like
     * their bit patterns) above the index, and -1 above it for weights already pruned so they sort first.
     */
    private static long key(float[] w, boolean[] keptBefore, int i, long index) {
        long magnitude = keptBefore != null && !keptBefore[i] ? -1L : Float.floatToIntBits(Math.abs(w[i]));
        return (magnitude << 32) | index;
    }

    private static int layerOf(long[] offset, long g) {
        int lo = 0, hi = offset.length - 2;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (offset[mid] <= g) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    private static boolean[][] allKept(float[][] weights) {
        boolean[][] kept = new boolean[weights.length][];
        for (int l = 0; l < weights.length; l++) {
            kept[l] = new boolean[weights[l].length];
            Arrays.fill(kept[l], true);
        }
        return kept;
    }
}
