package dev.kiln.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Streaming memory bandwidth over a buffer far larger than the caches (256 MB by default), in native
 * memory so the heap size does not matter. Two figures: a vector sum (read only; bytes read per second)
 * and a copy (bytes read plus bytes written per second; write-allocate traffic is not counted, so the
 * copy figure is what a copy-bound kernel sees). With several threads, each takes a contiguous slice.
 * Best of {@code repeats}.
 */
public final class MemBench {
    private MemBench() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** Read and copy bandwidth in GB/s (10^9 bytes) for one thread count. */
    public record Bandwidth(int threads, long bytes, double readGBps, double copyGBps) {}

    public static Bandwidth measure(int threads, long bytes, int repeats) {
        if (threads < 1) throw new IllegalArgumentException("membw: threads must be >= 1, got " + threads);
        long unit = (long) S.vectorByteSize() * threads * 4;
        long size = Math.max(unit, bytes / unit * unit);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment src = arena.allocate(size, 64), dst = arena.allocate(size, 64);
            src.fill((byte) 1); // touch every page so first-use faults stay out of the timing
            dst.fill((byte) 0);
            long slice = size / threads;
            double read = 0, copy = 0;
            float[] sums = new float[threads];
            for (int r = 0; r < repeats; r++) {
                double s = Team.run(threads, t -> sums[t] = sum(src.asSlice(t * slice, slice)));
                read = Math.max(read, size / s * 1e-9);
                double c = Team.run(threads, t -> MemorySegment.copy(src, t * slice, dst, t * slice, slice));
                copy = Math.max(copy, 2.0 * size / c * 1e-9);
            }
            float total = 0;
            for (float v : sums) total += v;
            if (!Float.isFinite(total)) throw new IllegalStateException("membw: sum is not finite");
            return new Bandwidth(threads, size, read, copy);
        }
    }

    /** Vector sum with four accumulators; the slice is a whole number of 4-vector steps. */
    static float sum(MemorySegment seg) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        long step = S.vectorByteSize(), n = seg.byteSize();
        for (long i = 0; i < n; i += 4 * step) {
            s0 = s0.add(FloatVector.fromMemorySegment(S, seg, i, ByteOrder.nativeOrder()));
            s1 = s1.add(FloatVector.fromMemorySegment(S, seg, i + step, ByteOrder.nativeOrder()));
            s2 = s2.add(FloatVector.fromMemorySegment(S, seg, i + 2 * step, ByteOrder.nativeOrder()));
            s3 = s3.add(FloatVector.fromMemorySegment(S, seg, i + 3 * step, ByteOrder.nativeOrder()));
        }
        return s0.add(s1).add(s2).add(s3).reduceLanes(VectorOperators.ADD);
    }
}
