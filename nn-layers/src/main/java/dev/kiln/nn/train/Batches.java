package dev.kiln.nn.train;

import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.data.LabelledImages;

import java.util.SplittableRandom;

/**
 * Mini-batches of a labelled image set, on the host. Pixels (in [0, 1]) are normalised once to
 * (x - {@link FashionMnist#MEAN}) / {@link FashionMnist#STD}. Each epoch visits the samples in an order drawn
 * from the seed and the epoch number alone, so an epoch's batches are the same whether a run was
 * interrupted before it or not. The last batch keeps the remainder.
 */
public final class Batches {
    /** One batch: {@code inputs} of {@code shape} and one label per row. */
    public record Batch(float[] inputs, int[] labels, int[] shape) {
        public int size() { return labels.length; }
    }

    private final float[] pixels;
    private final int[] labels;
    private final int count, height, width;
    private final boolean flat;

    /**
     * @param limit the first {@code limit} samples only (0: all)
     * @param flat  rows of height*width (MLP) rather than n x 1 x height x width (CNN)
     */
    public Batches(LabelledImages data, int limit, boolean flat) {
        if (limit < 0) throw new IllegalArgumentException("batches: limit must be >= 0, got " + limit);
        this.count = limit == 0 ? data.count() : Math.min(limit, data.count());
        if (count == 0) throw new IllegalArgumentException("batches: the data set is empty");
        this.height = data.height();
        this.width = data.width();
        this.flat = flat;
        int px = data.pixels();
        this.pixels = new float[count * px];
        for (int i = 0; i < pixels.length; i++) pixels[i] = (data.images()[i] - FashionMnist.MEAN) / FashionMnist.STD;
        this.labels = java.util.Arrays.copyOf(data.labels(), count);
    }

    public int size() { return count; }

    public int batches(int batchSize) { return (count + batchSize - 1) / batchSize; }

    /** The visiting order of epoch {@code epoch} (from 1): a Fisher-Yates shuffle seeded by (seed, epoch). */
    public int[] order(long seed, int epoch) {
        int[] order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        // Mixing the epoch in with the golden-ratio constant keeps nearby seeds and epochs unrelated.
        SplittableRandom r = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (epoch + 1L)));
        for (int i = count - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /** Batch {@code index} of {@code batchSize} samples taken from {@code order}. */
    public Batch batch(int[] order, int index, int batchSize) {
        int from = index * batchSize, n = Math.min(batchSize, count - from);
        if (index < 0 || n <= 0) throw new IllegalArgumentException("batches: batch " + index + " of size " + batchSize
                + " is past the " + count + " samples");
        int px = height * width;
        float[] x = new float[n * px];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            int s = order == null ? from + i : order[from + i];
            System.arraycopy(pixels, s * px, x, i * px, px);
            y[i] = labels[s];
        }
        return new Batch(x, y, flat ? new int[] {n, px} : new int[] {n, 1, height, width});
    }
}
