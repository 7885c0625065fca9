package dev.kiln.kernels.desc;

/** Elementwise two-input ops with numpy-style broadcasting. */
public enum BinaryOp { ADD, SUB, MUL, DIV, MAX, MIN;

    public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
}
