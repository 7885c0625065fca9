package dev.kiln.nn;

import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.OpDesc;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Wall-clock time per op family, for {@code kiln train --profile}. Every kernel call from this module goes
 * through {@link Exec}, which reports here; training code marks whole phases (the optimiser update, batch
 * preparation) with {@link #section}, and time inside a section counts for the section, not for the ops in
 * it. Kernel calls return when their outputs are written, so the times are real device times on every
 * backend. When disabled (the default) a report costs one volatile read.
 */
public final class Profiler {
    /** What time is attributed to. */
    public enum Family {
        GEMM, CONV_FORWARD, CONV_BACKWARD, POOLING, ELEMENTWISE, OPTIMIZER, DATA;

        public String lower() { return name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '); }
    }

    /** Total time and number of timed calls of one family. */
    public record Totals(long nanos, long calls) {
        public double seconds() { return nanos / 1e9; }
    }

    private static final int FAMILIES = Family.values().length;
    private static volatile boolean enabled;
    private static final AtomicLongArray NANOS = new AtomicLongArray(FAMILIES), CALLS = new AtomicLongArray(FAMILIES);
    private static final ThreadLocal<int[]> SECTION_DEPTH = ThreadLocal.withInitial(() -> new int[1]);
    private static final Timer OFF = () -> {};

    /** A running measurement; closing it adds the elapsed time. */
    @FunctionalInterface
    public interface Timer extends AutoCloseable {
        @Override void close();
    }

    private Profiler() {}

    public static void enable(boolean on) { enabled = on; }

    public static boolean enabled() { return enabled; }

    /** Clears all totals. */
    public static void reset() {
        for (int i = 0; i < FAMILIES; i++) {
            NANOS.set(i, 0);
            CALLS.set(i, 0);
        }
    }

    /** The totals so far, every family present (zero when unused). */
    public static Map<Family, Totals> snapshot() {
        Map<Family, Totals> out = new EnumMap<>(Family.class);
        for (Family f : Family.values()) out.put(f, new Totals(NANOS.get(f.ordinal()), CALLS.get(f.ordinal())));
        return out;
    }

    /** Times a phase; ops run inside it count for {@code family}. Nested sections count for the outermost. */
    public static Timer section(Family family) {
        if (!enabled) return OFF;
        int[] depth = SECTION_DEPTH.get();
        if (depth[0]++ > 0) return () -> depth[0]--;
        long start = System.nanoTime();
        return () -> {
            depth[0]--;
            add(family, System.nanoTime() - start);
        };
    }

    /** Times one kernel call of {@code desc} unless a section is open. */
    static Timer op(OpDesc desc) {
        if (!enabled || SECTION_DEPTH.get()[0] > 0) return OFF;
        Family family = familyOf(desc);
        long start = System.nanoTime();
        return () -> add(family, System.nanoTime() - start);
    }

    static Family familyOf(OpDesc desc) {
        return switch (desc.kind()) {
            case GEMM, QGEMM, SPMM, DSMM, SDDMM -> Family.GEMM;
            case CONV -> ((ConvDesc) desc).pass() == ConvDesc.ConvPass.FORWARD ? Family.CONV_FORWARD : Family.CONV_BACKWARD;
            case POOL -> Family.POOLING;
            default -> Family.ELEMENTWISE;
        };
    }

    private static void add(Family family, long nanos) {
        NANOS.addAndGet(family.ordinal(), nanos);
        CALLS.incrementAndGet(family.ordinal());
    }
}
