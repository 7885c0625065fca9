package dev.kiln.kernels.desc;

/** Which pass of a differentiable op a descriptor asks for. */
public enum Pass {
    FORWARD, BACKWARD;

    public String suffix() { return this == FORWARD ? "" : ".bwd"; }
}
