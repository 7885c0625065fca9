package dev.kiln.kernels.desc;

/** Activations usable as a fused epilogue. GELU is the tanh approximation (as in GPT-2), on every backend. */
public enum Activation { NONE, RELU, GELU, SILU, SIGMOID, TANH }
