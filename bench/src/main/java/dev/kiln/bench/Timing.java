package dev.kiln.bench;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Time-boxed repetition. Warm-up: at least a third of the budget, and on until a call runs within 25%
 * of the fastest so far (so a kernel still in the interpreter or C1 when the box closes keeps warming) and
 * the JIT has compiled nothing during the last call (see {@link JitQuiet}); capped at three budgets, or
 * {@link JitQuiet#MAX_WAIT_NANOS} while compiles are still going on. Then samples until the budget is spent and at least three were taken, or,
 * for calls slower than the budget, until three budgets are spent (at least one sample). The median
 * sample is the reported time: it ignores one-off stalls without flattering the kernel as the best does.
 */
record Timing(double median, double best, int samples) {

    static Timing measure(Runnable call, double budgetSeconds) {
        long budget = (long) (budgetSeconds * 1e9);
        long start = System.nanoTime(), fastest = Long.MAX_VALUE, last;
        JitQuiet jit = new JitQuiet();
        boolean quiet;
        do {
            long t0 = System.nanoTime();
            call.run();
            last = System.nanoTime() - t0;
            fastest = Math.min(fastest, last);
            quiet = jit.quietSinceLastAsked();
        } while (System.nanoTime() - start < budget / 3
                || (last > fastest * 5 / 4 && System.nanoTime() - start < 3 * budget)
                || (!quiet && System.nanoTime() - start < JitQuiet.MAX_WAIT_NANOS));
        List<Double> samples = new ArrayList<>();
        start = System.nanoTime();
        while (true) {
            long t0 = System.nanoTime();
            call.run();
            long t1 = System.nanoTime();
            samples.add((t1 - t0) * 1e-9);
            long spent = t1 - start;
            if ((spent >= budget && samples.size() >= 3) || spent >= 3 * budget || samples.size() >= 10_000) break;
        }
        Collections.sort(samples);
        int n = samples.size();
        double median = n % 2 == 1 ? samples.get(n / 2) : (samples.get(n / 2 - 1) + samples.get(n / 2)) / 2;
        return new Timing(median, samples.getFirst(), n);
    }

    /**
     * Median times of {@code a} and {@code b} in seconds, from calls alternating a, b, a, b ... so that both see
     * the same load (on a shared machine it drifts within seconds, and two back-to-back time boxes gave ratios
     * that swung by 30% between runs). Warm-up first: both run until a call of each is within 25% of the one
     * before and the JIT compiled nothing during the last pair (at least a third of the budget, at most three
     * budgets, or {@link JitQuiet#MAX_WAIT_NANOS} while compiles go on; a 4096^2 SGEMV first run in the
     * interpreter took 0.3 s, and one call inside a single time box was then taken as warm), then pairs until
     * the budget is spent twice over and at least three pairs were taken.
     */
    static double[] paired(Runnable a, Runnable b, double budgetSeconds) {
        long budget = (long) (budgetSeconds * 1e9), start = System.nanoTime();
        long lastA = Long.MAX_VALUE, lastB = Long.MAX_VALUE;
        boolean settled = false, quiet = false;
        JitQuiet jit = new JitQuiet();
        while (!settled || !quiet || System.nanoTime() - start < budget / 3) {
            long ta = time(a), tb = time(b);
            settled = ta <= lastA + lastA / 4 && tb <= lastB + lastB / 4 && lastA != Long.MAX_VALUE;
            quiet = jit.quietSinceLastAsked();
            lastA = ta;
            lastB = tb;
            long spent = System.nanoTime() - start;
            if (spent > 3 * budget && (quiet || spent > JitQuiet.MAX_WAIT_NANOS)) break;
        }
        List<Long> sa = new ArrayList<>(), sb = new ArrayList<>();
        start = System.nanoTime();
        while (sa.size() < 3 || System.nanoTime() - start < 2 * budget) {
            sa.add(time(a));
            sb.add(time(b));
            if (sa.size() >= 10_000 || System.nanoTime() - start > 6 * budget && sa.size() >= 1) break;
        }
        return new double[] {median(sa) * 1e-9, median(sb) * 1e-9};
    }

    private static long time(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return System.nanoTime() - t0;
    }

    private static double median(List<Long> v) {
        List<Long> s = new ArrayList<>(v);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2.0;
    }

    /**
     * Whether the JIT compiled anything between two questions, from the JVM's total compilation time. Why: the
     * fused low-bit and GEMV kernels are large methods whose C2 compiles took seconds of wall time on a loaded
     * 2-core machine; until then every call ran C1 code (the Vector API boxed, 10-100x slower) at a steady
     * speed, which the within-25% rule alone took for warm, and C2 arrived in the middle of the samples (bench
     * qgemm's s4 GEMV read 27-43 GOP/s from run to run). Unrelated compiles also count: waiting for them costs
     * only time. Without a compilation bean (or without time monitoring) it always says quiet.
     */
    static final class JitQuiet {
        /** The longest warm-up while compiles go on: 20 s. */
        static final long MAX_WAIT_NANOS = 20_000_000_000L;
        private static final CompilationMXBean JIT = ManagementFactory.getCompilationMXBean();
        private long lastMillis = millis();

        boolean quietSinceLastAsked() {
            long now = millis();
            boolean quiet = now == lastMillis;
            lastMillis = now;
            return quiet;
        }

        private static long millis() {
            return JIT != null && JIT.isCompilationTimeMonitoringSupported() ? JIT.getTotalCompilationTime() : 0;
        }
    }
}
