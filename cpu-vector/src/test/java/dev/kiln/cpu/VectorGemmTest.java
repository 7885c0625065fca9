package dev.kiln.cpu;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GEMM contract details the parity suite does not pin down: beta == 0 and the kinds of host memory. */
class VectorGemmTest {
    private final CpuDevice device = new CpuDevice();

    /** beta == 0 makes C write-only: NaN (and infinities) already in C must not reach the result. */
    @Test void betaZeroNeverReadsC() {
        GemmDesc d = GemmDesc.of(DType.F32, Transpose.T, Transpose.N, 29, 45, 270, 1.5, 0).withEpilogue(true, Activation.RELU);
        float[] a = TestData.floats(d.m() * d.k(), TestData.SEED), b = TestData.floats(d.k() * d.n(), TestData.SEED + 1);
        float[] bias = TestData.floats(d.n(), TestData.SEED + 2);
        float[] poisoned = new float[d.m() * d.n()], zeroed = new float[d.m() * d.n()];
        Arrays.fill(poisoned, Float.NaN);
        poisoned[3] = Float.POSITIVE_INFINITY;
        for (float[] c : new float[][] {poisoned, zeroed}) {
            String impl = TestData.run(device, d, Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b),
                    Arg.C, HostBuffer.wrap(c), Arg.BIAS, HostBuffer.wrap(bias)));
            assertEquals("vector-gemm", impl);
        }
        for (float v : poisoned) assertFalse(Float.isNaN(v) || Float.isInfinite(v), "C kept a poisoned value");
        assertArrayEquals(zeroed, poisoned, "the result must not depend on C's old contents");
        assertTrue(max(zeroed) > 0, "relu output should not be all zero");
    }

    /**
     * The same product on native memory, on whole float[] views and on views starting at an odd offset
     * (not vector-aligned) must be bit-identical: only the addresses differ.
     */
    @Test void heapAndNativeSegmentsGiveIdenticalResults() {
        GemmDesc d = GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 37, 70, 41, 1, 0.5);
        int na = d.m() * d.k(), nb = d.k() * d.n(), nc = d.m() * d.n();
        float[] a = TestData.floats(na, TestData.SEED + 3), b = TestData.floats(nb, TestData.SEED + 4), c0 = TestData.floats(nc, TestData.SEED + 5);

        float[] heap = c0.clone();
        TestData.run(device, d, Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(heap)));

        float[] shifted = new float[nc + 3];
        System.arraycopy(c0, 0, shifted, 3, nc);
        float[] a3 = new float[na + 1], b3 = new float[nb + 2];
        System.arraycopy(a, 0, a3, 1, na);
        System.arraycopy(b, 0, b3, 2, nb);
        TestData.run(device, d, Args.of(Arg.A, HostBuffer.wrap(a3, 1, na), Arg.B, HostBuffer.wrap(b3, 2, nb),
                Arg.C, HostBuffer.wrap(shifted, 3, nc)));

        float[] nat = new float[nc];
        try (var ha = device.allocate(DType.F32, na); var hb = device.allocate(DType.F32, nb); var hc = device.allocate(DType.F32, nc)) {
            ha.copyFrom(a);
            hb.copyFrom(b);
            hc.copyFrom(c0);
            TestData.run(device, d, Args.of(Arg.A, ha, Arg.B, hb, Arg.C, hc));
            hc.copyTo(nat);
        }
        assertArrayEquals(nat, heap, "native vs float[] view");
        assertArrayEquals(nat, Arrays.copyOfRange(shifted, 3, nc + 3), "native vs offset float[] view");
    }

    /**
     * Segments of a confined arena may only be touched by their owner: with two pool threads the GEMM (the root
     * README's segment example, on the CPU backend) must still run, on the caller alone, and give the bits of a shared arena.
     */
    @Test void confinedArenaOperandsRunOnTheCaller() {
        int previous = CpuThreads.threads();
        int m = 300, n = 500, k = 400; // past GemmSmall: the blocked driver, which spreads its blocks over the pool
        float[] a = TestData.floats(m * k, TestData.SEED + 6), b = TestData.floats(k * n, TestData.SEED + 7);
        float[][] results = new float[2][];
        try {
            CpuThreads.setThreads(2);
            for (int shared = 0; shared < 2; shared++) {
                try (Arena arena = shared == 1 ? Arena.ofShared() : Arena.ofConfined()) {
                    MemorySegment sa = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a), sb = arena.allocateFrom(ValueLayout.JAVA_FLOAT, b);
                    MemorySegment sc = arena.allocate(4L * m * n);
                    sc.fill((byte) 0x7f); // NaN poison; beta == 0 must not read it
                    String impl = TestData.run(device, GemmDesc.of(m, n, k), Args.of(Arg.A, HostBuffer.wrap(sa, DType.F32),
                            Arg.B, HostBuffer.wrap(sb, DType.F32), Arg.C, HostBuffer.wrap(sc, DType.F32)));
                    assertEquals("vector-gemm", impl);
                    results[shared] = sc.toArray(ValueLayout.JAVA_FLOAT);
                }
            }
        } finally {
            CpuThreads.setThreads(previous);
        }
        for (float v : results[0]) assertFalse(Float.isNaN(v), "confined result has a NaN");
        assertArrayEquals(results[1], results[0], "confined vs shared arena");
    }

    private static float max(float[] v) {
        float m = Float.NEGATIVE_INFINITY;
        for (float x : v) m = Math.max(m, x);
        return m;
    }
}
