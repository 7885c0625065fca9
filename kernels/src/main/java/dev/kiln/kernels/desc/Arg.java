package dev.kiln.kernels.desc;

/** Operand roles. Each descriptor says which roles it takes, in {@link OpDesc#args()}. */
public enum Arg {
    A, B, C, BIAS,
    SRC, SRC2, WEIGHTS, DST,
    DIFF_DST, DIFF_SRC, DIFF_SRC2, DIFF_WEIGHTS, DIFF_BIAS,
    GAMMA, BETA, MEAN, VARIANCE, RSTD, DIFF_GAMMA, DIFF_BETA,
    INDICES,
    ROW_PTR, COL_IDX, VALUES, META,
    SCALES, SRC_SCALES,
    /** Integer zero points of an asymmetric quantisation, one per scale. */
    ZERO_POINTS
}
