package dev.kiln.nn.prune;

import java.util.Locale;

/**
 * What to prune and how far: {@code global:S} (one magnitude threshold across all prunable layers, each layer
 * keeping at least {@code minKeep} of its weights), {@code layer:S} (every layer pruned to the same fraction
 * S) or {@code 2:4} (the two largest magnitudes of every four consecutive weights along the input dimension).
 *
 * @param method   how the weights to drop are chosen
 * @param sparsity the final fraction of prunable weights that are zero, in [0, 1); 0.5 for 2:4
 * @param minKeep  global pruning keeps at least this fraction of each layer's weights, so no layer dies
 */
public record PruneSpec(Method method, double sparsity, double minKeep) {
    /** The per-layer floor {@code global:S} uses: 5% of each layer's weights survive whatever the threshold. */
    public static final double DEFAULT_MIN_KEEP = 0.05;

    public enum Method {
        GLOBAL, LAYER, TWO_FOUR;

        public String lower() { return this == TWO_FOUR ? "2:4" : name().toLowerCase(Locale.ROOT); }
    }

    public PruneSpec {
        if (method == null) throw new IllegalArgumentException("prune: method is null");
        if (!(sparsity >= 0 && sparsity < 1))
            throw new IllegalArgumentException("prune: sparsity must be in [0, 1), got " + sparsity);
        if (method == Method.TWO_FOUR && sparsity != 0.5)
            throw new IllegalArgumentException("prune: 2:4 prunes exactly half the weights, got sparsity " + sparsity);
        if (!(minKeep > 0 && minKeep <= 1))
            throw new IllegalArgumentException("prune: the per-layer minimum kept fraction must be in (0, 1], got " + minKeep);
    }

    public static PruneSpec global(double sparsity) { return new PruneSpec(Method.GLOBAL, sparsity, DEFAULT_MIN_KEEP); }

    public static PruneSpec layerWise(double sparsity) { return new PruneSpec(Method.LAYER, sparsity, DEFAULT_MIN_KEEP); }

    public static PruneSpec twoFour() { return new PruneSpec(Method.TWO_FOUR, 0.5, DEFAULT_MIN_KEEP); }

    /**
     * Parses {@code global:S}, {@code layer:S} or {@code 2:4}; anything else is an
     * {@link IllegalArgumentException} that quotes the text and lists the accepted forms.
     */
    public static PruneSpec parse(String text) {
        String forms = "expected global:S or layer:S with 0 <= S < 1 (e.g. global:0.9), or 2:4";
        if (text == null || text.isBlank()) throw new IllegalArgumentException("prune: empty specification; " + forms);
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("2:4")) return twoFour();
        int colon = t.indexOf(':');
        String method = colon < 0 ? t : t.substring(0, colon);
        if (!method.equals("global") && !method.equals("layer"))
            throw new IllegalArgumentException("prune: unknown method '" + text + "'; " + forms);
        if (colon < 0 || colon == t.length() - 1)
            throw new IllegalArgumentException("prune: '" + text + "' gives no sparsity; " + forms);
        double s;
        try {
            s = Double.parseDouble(t.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("prune: sparsity '" + t.substring(colon + 1) + "' in '" + text + "' is not a number; " + forms);
        }
        if (!(s >= 0 && s < 1))
            throw new IllegalArgumentException("prune: sparsity " + s + " in '" + text + "' is outside [0, 1); " + forms);
        return method.equals("global") ? global(s) : layerWise(s);
    }

    /** The text {@link #parse} reads back (without the minimum, which checkpoints store separately). */
    @Override public String toString() { return method == Method.TWO_FOUR ? "2:4" : method.lower() + ":" + sparsity; }
}
