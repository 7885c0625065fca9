package dev.kiln.nn;

import dev.kiln.kernels.DType;

/**
 * The element type of tensors created on this thread without an explicit one (parameters, constants,
 * inputs made from {@code float[]}): f32 by default. Ops take their result's dtype from their inputs, so a
 * model built and fed inside {@code try (Precision p = Precision.use(DType.F64)) { ... }} computes in double
 * end to end; that is what the gradient checks do. Backends without f64 kernels decline such calls and
 * dispatch runs them on the reference, so f64 is for checking, not for speed.
 */
public final class Precision implements AutoCloseable {
    private static final ThreadLocal<DType> CURRENT = ThreadLocal.withInitial(() -> DType.F32);

    private final DType previous;
    private boolean closed;

    private Precision(DType previous) { this.previous = previous; }

    /** Makes {@code dtype} (f32 or f64) the default until the returned scope closes. */
    public static Precision use(DType dtype) {
        requireFloat("precision", dtype);
        Precision p = new Precision(CURRENT.get());
        CURRENT.set(dtype);
        return p;
    }

    /** The default element type of new tensors on this thread. */
    public static DType current() { return CURRENT.get(); }

    static void requireFloat(String op, DType dtype) {
        if (dtype != DType.F32 && dtype != DType.F64)
            throw new IllegalArgumentException(op + ": tensors are f32 or f64, not " + (dtype == null ? "null" : dtype.lower()));
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        CURRENT.set(previous);
    }
}
