package dev.kiln.kernels.desc;

/**
 * The level-1 BLAS vector ops of {@link Blas1Desc}: DOT (a scalar x . y), AXPY (y = alpha * x + y) and SCAL
 * (x = alpha * x). Their BLAS names carry the dtype's letter: sdot / ddot, saxpy / daxpy, sscal / dscal.
 */
public enum Blas1Op { DOT, AXPY, SCAL;

    public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
}
