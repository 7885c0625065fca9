package dev.kiln.nn.data;

/**
 * Images as floats in [0, 1] (n x height x width, row-major) with integer labels in [0, classes).
 */
public record LabelledImages(float[] images, int[] labels, int count, int height, int width, int classes) {
    public int pixels() { return height * width; }
}
