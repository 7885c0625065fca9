package dev.kiln.kernels.desc;

/** Elementwise one-input ops. GELU is the tanh approximation. LOG of a non-positive input gives NaN/-inf. */
public enum UnaryOp { RELU, GELU, SILU, SIGMOID, TANH, EXP, LOG, NEG, ABS, SQRT, SQUARE;

    public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
}
