package dev.kiln.cpu;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The shared pool: every task once, failures rethrown, no deadlock when nested, bit-identical results. */
class CpuThreadsTest {
    private int before;

    @BeforeEach void remember() { before = CpuThreads.threads(); }

    @AfterEach void restore() { CpuThreads.setThreads(before); }

    @Test void everyTaskRunsExactlyOnce() {
        for (int threads : new int[] {1, 2, 3}) {
            CpuThreads.setThreads(threads);
            AtomicIntegerArray hits = new AtomicIntegerArray(1001);
            CpuThreads.parallelFor(1001, hits::incrementAndGet);
            for (int i = 0; i < hits.length(); i++) assertEquals(1, hits.get(i), "task " + i + " with " + threads + " threads");
        }
    }

    @Test void firstFailureIsRethrownAfterTheOthersFinish() {
        CpuThreads.setThreads(2);
        IllegalStateException boom = new IllegalStateException("task 7");
        RuntimeException e = assertThrows(RuntimeException.class, () -> CpuThreads.parallelFor(50, t -> {
            if (t == 7) throw boom;
        }));
        assertSame(boom, e);
    }

    @Test void nestedCallsFromPoolThreadsDoNotDeadlock() {
        CpuThreads.setThreads(2);
        AtomicIntegerArray hits = new AtomicIntegerArray(8 * 64);
        CpuThreads.parallelFor(8, outer -> CpuThreads.parallelFor(64, inner -> hits.incrementAndGet(outer * 64 + inner)));
        for (int i = 0; i < hits.length(); i++) assertEquals(1, hits.get(i), "nested task " + i);
    }

    @Test void badThreadCountIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuThreads.setThreads(0));
        assertEquals("cpu threads must be >= 1, got 0", e.getMessage());
    }

    /** Many blocks in m, n and k (k > kc, m > mc, n > nc), transposed B, bias and activation. */
    @Test void gemmIsBitIdenticalForAnyThreadCount() {
        GemmDesc d = GemmDesc.of(DType.F32, Transpose.N, Transpose.T, 100, 600, 270, 1.25, 0.5).withEpilogue(true, Activation.GELU);
        float[] a = TestData.floats(d.m() * d.k(), TestData.SEED), b = TestData.floats(d.n() * d.k(), TestData.SEED + 1);
        float[] c0 = TestData.floats(d.m() * d.n(), TestData.SEED + 2), bias = TestData.floats(d.n(), TestData.SEED + 3);
        float[] one = gemm(d, 1, a, b, c0, bias), two = gemm(d, 2, a, b, c0, bias), three = gemm(d, 3, a, b, c0, bias);
        assertArrayEquals(one, two, "1 vs 2 threads");
        assertArrayEquals(one, three, "1 vs 3 threads");
    }

    /** Shared packing at 512 bits with blocks of one 64-wide sliver: seven row bands, an edge sliver, two k panels. */
    @Test void tallGemmIsBitIdenticalForAnyThreadCount() {
        GemmDesc d = GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 800, 70, 1100, 1, 0).withEpilogue(true, Activation.NONE);
        float[] a = TestData.floats(d.m() * d.k(), TestData.SEED + 5), b = TestData.floats(d.n() * d.k(), TestData.SEED + 6);
        float[] c0 = TestData.floats(d.m() * d.n(), TestData.SEED + 7), bias = TestData.floats(d.n(), TestData.SEED + 8);
        float[] one = gemm(d, 1, a, b, c0, bias);
        assertArrayEquals(one, gemm(d, 2, a, b, c0, bias), "1 vs 2 threads");
        assertArrayEquals(one, gemm(d, 3, a, b, c0, bias), "1 vs 3 threads");
    }

    @Test void unaryAndSoftmaxAreBitIdenticalForAnyThreadCount() {
        int n = 3 * (1 << 14) + 5;
        float[] x = TestData.floats(n, TestData.SEED + 4);
        UnaryDesc u = new UnaryDesc(UnaryOp.GELU, n);
        SoftmaxDesc s = SoftmaxDesc.rows(n / 61, 61, false);
        float[][] outs = new float[2][];
        float[][] soft = new float[2][];
        for (int threads = 1; threads <= 2; threads++) {
            CpuThreads.setThreads(threads);
            outs[threads - 1] = new float[n];
            soft[threads - 1] = new float[(int) s.count()];
            CpuDevice device = new CpuDevice();
            TestData.run(device, u, Args.of(Arg.SRC, HostBuffer.wrap(x), Arg.DST, HostBuffer.wrap(outs[threads - 1])));
            TestData.run(device, s, Args.of(Arg.SRC, HostBuffer.wrap(x, 0, (int) s.count()), Arg.DST, HostBuffer.wrap(soft[threads - 1])));
        }
        assertArrayEquals(outs[0], outs[1], "gelu, 1 vs 2 threads");
        assertArrayEquals(soft[0], soft[1], "softmax, 1 vs 2 threads");
    }

    private static float[] gemm(GemmDesc d, int threads, float[] a, float[] b, float[] c0, float[] bias) {
        CpuThreads.setThreads(threads);
        float[] c = c0.clone();
        String impl = TestData.run(new CpuDevice(), d, Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b),
                Arg.C, HostBuffer.wrap(c), Arg.BIAS, HostBuffer.wrap(bias)));
        assertEquals("vector-gemm", impl);
        return c;
    }
}
