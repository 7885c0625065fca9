package dev.kiln.nn.prune;

import java.util.Locale;

/**
 * How one pruned layer runs in a {@link SparseInference} and why: its weight's sparsity, the sparse format it
 * would use, and the forward time of the dense layer and of its sparse kernels on the same input, measured when
 * the sparse model was built ({@link SparseInference#calibrated}). Times are NaN where nothing was measured (a
 * layer without a sparse path, or a policy-built model).
 *
 * @param layer    index of the layer in the model
 * @param name     the pruned weight's name ({@code 7.weight})
 * @param sparsity fraction of the weight's mask that is zero
 * @param format   the sparse form ({@code csr 128x3136}, {@code 2:4 64x800}), or {@code none} where none was built
 * @param denseMs  best dense forward time of the trial, milliseconds
 * @param sparseMs best sparse forward time of the trial, milliseconds
 * @param sparse   whether the layer runs on sparse kernels
 * @param why      the reason for the choice, in words
 */
public record LayerChoice(int layer, String name, double sparsity, String format, double denseMs, double sparseMs, boolean sparse,
                          String why) {
    /** Dense time over sparse time (above 1: the sparse kernels are faster); NaN when not measured. */
    public double ratio() { return denseMs / sparseMs; }

    /** One line: {@code 7.weight  95.0% zero  csr 128x3136  dense 3.81 ms  sparse 0.92 ms  x4.14  -> sparse (...)}. */
    @Override public String toString() {
        return String.format(Locale.ROOT, "%s %.1f%% zero, %s, dense %.3f ms, sparse %.3f ms, x%.2f -> %s (%s)", name, 100 * sparsity, format,
                denseMs, sparseMs, ratio(), sparse ? "sparse" : "dense", why);
    }
}
