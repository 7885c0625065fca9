package dev.kiln.kernels.desc;

/** Reductions along one axis. ARGMAX gives the first index of the maximum, as s32. */
public enum ReduceOp { SUM, MEAN, MAX, ARGMAX;

    public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
}
