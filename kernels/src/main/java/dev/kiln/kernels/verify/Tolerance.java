package dev.kiln.kernels.verify;

/**
 * How far a backend's output element may be from the reference: {@code |got - expected| <= absolute +
 * relative * scale}, where {@code scale} is the element's magnitude as the harness measures it: for ops that
 * accumulate (GEMM, convolution, sparse and quantised GEMM, sums, pooling gradients, broadcast gradients) the
 * sum of the absolute values of the terms that formed the element (the reference run once more on absolute
 * inputs), otherwise the expected value's own magnitude; never less than {@code |expected|}. Integer outputs
 * (s32 GEMM results, indices, argmax) are always compared exactly, whatever the tolerance says.
 */
public record Tolerance(double relative, double absolute) {
    public Tolerance {
        if (!(relative >= 0) || !(absolute >= 0) || Double.isInfinite(relative) || Double.isInfinite(absolute))
            throw new IllegalArgumentException("tolerance: relative=" + relative + " and absolute=" + absolute
                    + " must be finite and >= 0");
    }

    private static final Tolerance EXACT = new Tolerance(0, 0);

    /** Bit-for-bit equal values (data movement, max, integer arithmetic). */
    public static Tolerance exact() { return EXACT; }

    public boolean isExact() { return relative == 0 && absolute == 0; }

    /** The largest error allowed for an element of magnitude {@code scale}. */
    public double allowed(double scale) { return absolute + relative * Math.abs(scale); }

    @Override public String toString() {
        return isExact() ? "exact" : String.format(java.util.Locale.ROOT, "rel %.3g abs %.3g", relative, absolute);
    }
}
