package dev.kiln.nn;

/** A scope in which ops record no graph (evaluation, optimiser updates, the backward pass itself). */
public final class NoGrad implements AutoCloseable {
    private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    private boolean closed;

    private NoGrad() {}

    public static NoGrad enter() {
        DEPTH.get()[0]++;
        return new NoGrad();
    }

    public static boolean active() { return DEPTH.get()[0] > 0; }

    @Override public void close() {
        if (closed) return;
        closed = true;
        DEPTH.get()[0]--;
    }
}
