package dev.kiln.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's measured f32 FMA peak through the Vector API: twelve independent fma chains held in
 * registers, no memory traffic, at the preferred species' width (read at run time). Twelve chains cover
 * FMA latency times throughput on current x86 and Arm cores (4-5 cycles x 2 pipes). Every fma counts
 * 2 x lanes flops. Multi-threaded figures run one such loop per thread, started together, and divide
 * the total work by the wall time of the slowest. The figure is the best of several short runs, since it
 * is a ceiling: anything slower is interference, and on a shared machine short runs are the ones that
 * find the cores free (0.3 s runs read 30% lower than 0.05 s runs under other builds' load).
 */
public final class PeakBench {
    private PeakBench() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int CHAINS = 12;

    /** Vector width in bits of the species the measurement used. */
    public static int vectorBits() { return S.vectorBitSize(); }

    /** Iterations per call of {@link #spin}: about 60 µs of work, so the deadline check costs nothing. */
    private static final int CHUNK = 1 << 14;
    private static volatile boolean warmed;

    /**
     * Measured GFLOP/s with {@code threads} threads: the best of {@code repeats} runs, each of which keeps
     * every thread calling {@link #spin} for {@code seconds} and divides the work done by the team's wall time.
     */
    public static double gflops(int threads, double seconds, int repeats) {
        if (threads < 1) throw new IllegalArgumentException("peak: threads must be >= 1, got " + threads);
        if (!(seconds > 0) || repeats < 1)
            throw new IllegalArgumentException("peak: need seconds > 0 and repeats >= 1, got " + seconds + " and " + repeats);
        warmUp();
        double best = 0;
        for (int r = 0; r < repeats; r++) best = Math.max(best, run(threads, seconds));
        return best;
    }

    /** Once per process: enough calls for C2 to compile {@link #spin}, so no run times the interpreter. */
    private static void warmUp() {
        if (warmed) return;
        long end = System.nanoTime() + 300_000_000L;
        float acc = 0;
        do acc += spin(CHUNK); while (System.nanoTime() < end);
        sink(acc);
        warmed = true;
    }

    private static double run(int threads, double seconds) {
        long[] chunks = new long[threads];
        long duration = (long) (seconds * 1e9);
        double wall = Team.run(threads, t -> {
            long t0 = System.nanoTime(), n = 0;
            float acc = 0;
            do {
                acc += spin(CHUNK);
                n++;
            } while (System.nanoTime() - t0 < duration);
            chunks[t] = n;
            sink(acc);
        });
        long total = 0;
        for (long c : chunks) total += c;
        return (double) total * CHUNK * CHAINS * 2 * S.length() / wall * 1e-9;
    }

    private static volatile float sinkValue;

    /** Keeps results alive; racy on purpose (the value is never read), only the volatile write matters. */
    private static void sink(float v) { sinkValue = v; }

    /**
     * The FMA loop: each chain computes acc = acc * m + c with m < 1, so values converge to c / (1 - m)
     * and stay normal (no denormal slow path, no overflow). The result is reduced so C2 cannot drop it.
     */
    static float spin(long iters) {
        FloatVector m = FloatVector.broadcast(S, 0.999f), c = FloatVector.broadcast(S, 0.001f);
        FloatVector a0 = FloatVector.broadcast(S, 0.1f), a1 = FloatVector.broadcast(S, 0.2f), a2 = FloatVector.broadcast(S, 0.3f);
        FloatVector a3 = FloatVector.broadcast(S, 0.4f), a4 = FloatVector.broadcast(S, 0.5f), a5 = FloatVector.broadcast(S, 0.6f);
        FloatVector a6 = FloatVector.broadcast(S, 0.7f), a7 = FloatVector.broadcast(S, 0.8f), a8 = FloatVector.broadcast(S, 0.9f);
        FloatVector a9 = FloatVector.broadcast(S, 1.1f), a10 = FloatVector.broadcast(S, 1.2f), a11 = FloatVector.broadcast(S, 1.3f);
        for (long i = 0; i < iters; i++) {
            a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
            a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
            a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
