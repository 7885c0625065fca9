package dev.kiln.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The start-up check that the Vector API is really compiled to vector instructions here. It times a
 * warmed-up dot product of a few thousand floats written with the preferred species against the same
 * loop written scalar (one dependent FMA chain, which C2 does not auto-vectorise). Intrinsified, the
 * vector loop is several times faster (at 128 bits already 4 lanes and 4 accumulators); when the JIT
 * falls back to the Java implementation it is about 100x slower. Short timed rounds repeat until the
 * vector loop is at least 1.5x faster than the scalar one (C2 has compiled it; the best round counts, so
 * noise on a busy machine does not fail it) or a budget of 2 s of this thread's CPU time is spent
 * (capped at 30 s of wall time), which only a JIT that never intrinsifies reaches. The budget is that
 * large because C2 compiles on another thread: with many JVMs starting at once on two cores (a test
 * run beside other builds), 500 ms of this thread's time passed before C2 compiled the vector loop
 * (0.4x after 374 rounds, 2026-11-23) and the backend wrongly fell back to scalar kernels. The result, with
 * its timing, is cached by {@link VectorSupport}.
 */
public final class VectorSelfCheck {
    private VectorSelfCheck() {}

    /** The outcome: passed, the hardware's preferred width, and a line for device properties. */
    public record Result(boolean passed, int hardwareBits, String detail) {}

    private static final VectorSpecies<Float> P = FloatVector.SPECIES_PREFERRED;
    private static final int N = 2048;
    /** Normally passes within about 100-200 ms; a JIT that never intrinsifies uses the whole budget. */
    private static final long BUDGET_NANOS = 2_000_000_000L;
    /** However loaded the machine, the check gives up after this much wall time. */
    private static final long WALL_CAP_NANOS = 30_000_000_000L;
    private static final double REQUIRED_SPEEDUP = 1.5;
    /** Keeps the timed loops from being optimised away. */
    static volatile float SINK;

    static Result run() {
        int bits = P.vectorBitSize();
        try {
            float[] a = new float[N], b = new float[N];
            for (int i = 0; i < N; i++) {
                a[i] = (i % 17) * 0.25f - 2;
                b[i] = (i % 13) * 0.125f + 0.5f;
            }
            float expected = scalarDot(a, b);
            float got = vectorDot(a, b);
            if (Math.abs(got - expected) > 1e-3f * Math.max(1, Math.abs(expected)))
                return new Result(false, bits, "vector dot product gave " + got + ", scalar " + expected);
            // Rounds until the vector loop is clearly faster (C2 has compiled it) or the budget is spent.
            // Time is this thread's CPU time where the JVM measures it: on a loaded machine this thread and
            // the compiler thread are slowed alike, so the budget stretches with the load instead of failing.
            Clock clock = new Clock();
            long began = clock.now(), wallCap = System.nanoTime() + WALL_CAP_NANOS;
            float sink = 0;
            double speedup = 0;
            int rounds = 0;
            while (speedup < REQUIRED_SPEEDUP && clock.now() - began < BUDGET_NANOS && System.nanoTime() < wallCap) {
                long t0 = clock.now();
                for (int r = 0; r < 20; r++) sink += vectorDot(a, b);
                long t1 = clock.now();
                for (int r = 0; r < 20; r++) sink += scalarDot(a, b);
                long t2 = clock.now();
                speedup = Math.max(speedup, (double) (t2 - t1) / Math.max(1, t1 - t0));
                rounds++;
            }
            long millis = (clock.now() - began) / 1_000_000;
            SINK = sink;
            String detail = String.format(java.util.Locale.ROOT, "%s: vector loop %.1fx faster than scalar (%d rounds, %d ms %s)",
                    P, speedup, rounds, millis, clock.cpu ? "cpu" : "wall");
            if (speedup < REQUIRED_SPEEDUP)
                return new Result(false, bits, detail + " (needs " + REQUIRED_SPEEDUP + "x: the JIT does not intrinsify the Vector API here)");
            return new Result(true, bits, detail);
        } catch (RuntimeException | LinkageError e) {
            return new Result(false, bits, "vector self-check threw " + e);
        }
    }

    /** This thread's CPU time when available, else wall time. */
    private static final class Clock {
        final java.lang.management.ThreadMXBean bean = java.lang.management.ManagementFactory.getThreadMXBean();
        final boolean cpu = bean.isCurrentThreadCpuTimeSupported() && bean.isThreadCpuTimeEnabled();

        long now() { return cpu ? bean.getCurrentThreadCpuTime() : System.nanoTime(); }
    }

    private static float vectorDot(float[] a, float[] b) {
        int l = P.length(), i = 0, bound = N - 4 * l;
        FloatVector s0 = FloatVector.zero(P), s1 = s0, s2 = s0, s3 = s0;
        for (; i <= bound; i += 4 * l) {
            s0 = FloatVector.fromArray(P, a, i).fma(FloatVector.fromArray(P, b, i), s0);
            s1 = FloatVector.fromArray(P, a, i + l).fma(FloatVector.fromArray(P, b, i + l), s1);
            s2 = FloatVector.fromArray(P, a, i + 2 * l).fma(FloatVector.fromArray(P, b, i + 2 * l), s2);
            s3 = FloatVector.fromArray(P, a, i + 3 * l).fma(FloatVector.fromArray(P, b, i + 3 * l), s3);
        }
        float s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < N; i++) s = Math.fma(a[i], b[i], s);
        return s;
    }

    private static float scalarDot(float[] a, float[] b) {
        float s = 0;
        for (int i = 0; i < N; i++) s = Math.fma(a[i], b[i], s);
        return s;
    }
}
