package dev.kiln.kernels;

import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bad input through the public entry points ({@link Kernels#execute}, {@link Blas#sgemm}): each call must
 * throw before writing anything, with a message that names the op and the offending numbers. Every output
 * is filled with a sentinel first and checked unchanged afterwards.
 */
class KernelsValidationTest {
    private static final float SENTINEL = 12345.5f;

    private static float[] sentinel(int n) {
        float[] c = new float[n];
        Arrays.fill(c, SENTINEL);
        return c;
    }

    private static float[] ramp(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = 0.25f * i - 1;
        return a;
    }

    /** Runs {@code call}, expects {@code type} whose message holds every fragment, and {@code out} untouched. */
    private static <T extends Throwable> T rejects(Class<T> type, Executable call, float[] out, String... fragments) {
        float[] before = out.clone();
        T e = assertThrows(type, call);
        for (String f : fragments)
            assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
        assertArrayEquals(before, out, "output written by a rejected call");
        return e;
    }

    private static <T extends Throwable> T rejects(Class<T> type, Executable call, String... fragments) {
        return rejects(type, call, new float[0], fragments);
    }

    @Test void validCallRuns() {
        float[] a = ramp(6), b = ramp(12), c = sentinel(8);
        Blas.sgemm(2, 4, 3, a, b, c);
        double want = 0;
        for (int p = 0; p < 3; p++) want += (double) a[p] * b[p * 4 + 1];
        assertEquals(want, c[1], 1e-6);
    }

    @Test void leadingDimensionTooSmall() {
        float[] c = sentinel(12);
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 3, 4, 5, 1f, ramp(20), 0, 4,
                ramp(20), 0, 4, 0f, c, 0, 4), c, "gemm", "lda = 4", ">= 5", "k=5");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.T, Transpose.N, 3, 4, 5, 1f, ramp(20), 0, 2,
                ramp(20), 0, 4, 0f, c, 0, 4), c, "gemm", "lda = 2", ">= 3", "m=3");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 3, 4, 5, 1f, ramp(15), 0, 5,
                ramp(20), 0, 4, 0f, c, 0, 3), c, "gemm", "ldc = 3", ">= 4");
    }

    @Test void kMismatchMakesABufferTooSmall() {
        float[] c = sentinel(12);
        // The caller believes k = 4 (A is 3x4) but passes k = 5.
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(3, 4, 5, ramp(12), ramp(20), c), c,
                "gemm", "argument A", "has 12", "needs 15", "m=3 n=4 k=5");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(3, 4, 5, ramp(15), ramp(16), c), c,
                "gemm", "argument B", "has 16", "needs 20");
    }

    @Test void outputTooSmallOrOffsetOutside() {
        float[] c = sentinel(12);
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(3, 4, 5, ramp(15), ramp(20), Arrays.copyOf(c, 11)), c,
                "gemm", "argument C", "has 11", "needs 12");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 3, 4, 5, 1f, ramp(15), 0, 5,
                ramp(20), 0, 4, 0f, c, 1, 4), c, "gemm", "argument C", "has 11", "needs 12");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 3, 4, 5, 1f, ramp(15), 0, 5,
                ramp(20), 0, 4, 0f, c, 13, 4), c, "sgemm", "offset of C is 13", "length 12");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 3, 4, 5, 1f, ramp(15), -1, 5,
                ramp(20), 0, 4, 0f, c, 0, 4), c, "sgemm", "offset of A is -1");
    }

    @Test void wrongDtype() {
        float[] c = sentinel(4);
        rejects(IllegalArgumentException.class, () -> Kernels.execute(GemmDesc.of(2, 2, 2),
                Args.of(Arg.A, HostBuffer.wrap(new double[4]), Arg.B, HostBuffer.wrap(ramp(4)), Arg.C, HostBuffer.wrap(c))), c,
                "gemm", "argument A is f64, expected f32");
        int[] ci = new int[6];
        Arrays.fill(ci, 777);
        float[] ciView = new float[0];
        rejects(IllegalArgumentException.class, () -> Kernels.execute(QGemmDesc.s8(2, 3, 4, DType.S32),
                Args.of(Arg.A, HostBuffer.wrap(ramp(8)), Arg.B, HostBuffer.wrap(new byte[12], DType.S8), Arg.C, HostBuffer.wrap(ci))),
                ciView, "qgemm.s8s8", "argument A is f32, expected s8", "m=2 n=3 k=4");
        assertTrue(Arrays.stream(ci).allMatch(v -> v == 777), "s32 output written");
        float[] y = sentinel(5);
        rejects(IllegalArgumentException.class, () -> Kernels.execute(new UnaryDesc(UnaryOp.RELU, 5),
                Args.of(Arg.SRC, HostBuffer.wrap(new int[5]), Arg.DST, HostBuffer.wrap(y))), y, "relu", "SRC is s32, expected f32");
    }

    @Test void missingAndUnexpectedArguments() {
        float[] c = sentinel(4);
        rejects(IllegalArgumentException.class, () -> Kernels.execute(GemmDesc.of(2, 2, 2),
                Args.of(Arg.A, HostBuffer.wrap(ramp(4)), Arg.C, HostBuffer.wrap(c))), c, "gemm", "argument B is missing", "needs 4 f32");
        rejects(IllegalArgumentException.class, () -> Kernels.execute(GemmDesc.of(2, 2, 2),
                Args.of(Arg.A, HostBuffer.wrap(ramp(4)), Arg.B, HostBuffer.wrap(ramp(4)), Arg.C, HostBuffer.wrap(c))
                        .put(Arg.BIAS, HostBuffer.wrap(ramp(2)))), c, "gemm", "unexpected argument BIAS", "takes A, B, C");
        rejects(IllegalArgumentException.class, () -> Kernels.execute(GemmDesc.of(2, 2, 2),
                Args.of(Arg.A, HostBuffer.wrap(ramp(4)), Arg.B, null, Arg.C, HostBuffer.wrap(c))), c, "gemm", "argument B is missing");
        // An unexpected role mapped to null is absent, like Args.has says, and the call runs.
        Kernels.execute(GemmDesc.of(2, 2, 2), Args.of(Arg.A, HostBuffer.wrap(ramp(4)), Arg.B, HostBuffer.wrap(ramp(4)),
                Arg.C, HostBuffer.wrap(c), Arg.BIAS, null));
        assertNotEquals(SENTINEL, c[0]);
        float[] y = sentinel(7);
        rejects(IllegalArgumentException.class, () -> Kernels.execute(new SoftmaxDesc(1, 7, 1, false, Pass.BACKWARD),
                Args.of(Arg.DST, HostBuffer.wrap(ramp(7)), Arg.DIFF_SRC, HostBuffer.wrap(y))), y,
                "softmax.bwd", "argument DIFF_DST is missing", "needs 7");
    }

    @Test void nulls() {
        float[] c = sentinel(4);
        rejects(IllegalArgumentException.class, () -> Kernels.execute(null, Args.of()), "execute: descriptor is null");
        rejects(IllegalArgumentException.class, () -> Kernels.execute(GemmDesc.of(2, 2, 2), null), "gemm: args is null");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(2, 2, 2, null, ramp(4), c), c, "sgemm: A is null");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(2, 2, 2, ramp(4), null, c), c, "sgemm: B is null");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(2, 2, 2, ramp(4), ramp(4), null), "sgemm: C is null");
        rejects(IllegalArgumentException.class, () -> Blas.dgemm(Transpose.N, Transpose.N, 2, 2, 2, 1, null, 0, 2,
                new double[4], 0, 2, 0, new double[4], 0, 2), "dgemm: A is null");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 2, 2, 2, 1f, null, 2,
                java.lang.foreign.MemorySegment.ofArray(ramp(4)), 2, 0f, java.lang.foreign.MemorySegment.ofArray(c), 2), c, "sgemm: A is null");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(null, Transpose.N, 2, 2, 2, 1f, ramp(4), 0, 2,
                ramp(4), 0, 2, 0f, c, 0, 2), c, "gemm: transA is null");
        rejects(IllegalArgumentException.class, () -> Args.of().put(null, HostBuffer.wrap(c)), "args: role is null");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 2, 2, 2, 1f,
                java.lang.foreign.MemorySegment.ofArray(new byte[7]), 2, java.lang.foreign.MemorySegment.ofArray(ramp(4)), 2, 0f,
                java.lang.foreign.MemorySegment.ofArray(c), 2), c, "sgemm", "A has 7 bytes, not a whole number of f32 elements");
    }

    @Test void negativeSizes() {
        float[] c = sentinel(12);
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(-1, 4, 5, ramp(15), ramp(20), c), c, "gemm", "m must be >= 0, got -1");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(3, -4, 5, ramp(15), ramp(20), c), c, "gemm", "n must be >= 0, got -4");
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(3, 4, -5, ramp(15), ramp(20), c), c, "gemm", "k must be >= 0, got -5");
    }

    @Test void overflowingSizes() {
        float[] c = sentinel(12);
        int big = Integer.MAX_VALUE;
        // Every product fits a long, so the call fails on the buffers, naming the element counts needed.
        long needA = Math.multiplyExact((long) big, 1 << 20);
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(big, big, 1 << 20, ramp(15), ramp(20), c), c,
                "gemm", "argument A", "needs " + needA, "m=" + big + " n=" + big + " k=" + (1 << 20));
        // With a batch the spans overflow a long: reported at construction.
        rejects(IllegalArgumentException.class, () -> GemmDesc.of(big, big, big).withBatch(big, 0, 0, Long.MAX_VALUE / 2),
                "gemm", "overflows a long");
        rejects(IllegalArgumentException.class, () -> new SoftmaxDesc(big, big, big, false, Pass.FORWARD), "softmax", "overflows a long");
        rejects(IllegalArgumentException.class, () -> new BinaryDesc(BinaryOp.ADD, Shape.of(big, big, big), Shape.of(1)),
                "add", "overflows a long");
        rejects(IllegalArgumentException.class, () -> new UnaryDesc(UnaryOp.EXP, Long.MAX_VALUE), "exp", "count=" + Long.MAX_VALUE);
    }

    @Test void closedBuffer() {
        float[] c = sentinel(4);
        HostBuffer closed = HostBuffer.wrap(c);
        closed.close();
        rejects(IllegalStateException.class, () -> Kernels.execute(GemmDesc.of(2, 2, 2),
                Args.of(Arg.A, HostBuffer.wrap(ramp(4)), Arg.B, HostBuffer.wrap(ramp(4)), Arg.C, closed)), c,
                "gemm", "argument C is a closed buffer", "4 f32");
        try (HostBuffer native1 = HostBuffer.allocate(null, DType.F32, 4)) {
            HostBuffer a = HostBuffer.allocate(null, DType.F32, 4);
            a.close();
            rejects(IllegalStateException.class, () -> Kernels.execute(GemmDesc.of(2, 2, 2),
                    Args.of(Arg.A, a, Arg.B, HostBuffer.wrap(ramp(4)), Arg.C, native1)), "gemm", "argument A is a closed buffer");
        }
    }

    @Test void outputMayNotAliasAnInput() {
        float[] a = ramp(4);
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(2, 2, 2, a, ramp(4), a), a, "gemm", "output C overlaps argument A");
        // Partial overlap: C starts inside B's span.
        float[] shared = ramp(12);
        rejects(IllegalArgumentException.class, () -> Blas.sgemm(Transpose.N, Transpose.N, 2, 2, 2, 1f, ramp(4), 0, 2,
                shared, 0, 2, 0f, shared, 3, 2), shared, "gemm", "output C overlaps argument B");
        // Disjoint parts of one array are fine.
        Blas.sgemm(Transpose.N, Transpose.N, 2, 2, 2, 1f, ramp(4), 0, 2, shared, 0, 2, 0f, shared, 4, 2);
        assertNotEquals(ramp(12)[4], shared[4], "disjoint call ran");
        HostBuffer x = HostBuffer.wrap(sentinel(6));
        rejects(IllegalArgumentException.class, () -> Kernels.execute(new UnaryDesc(UnaryOp.EXP, 6), Args.of(Arg.SRC, x, Arg.DST, x)),
                "exp", "output DST overlaps argument SRC");
        float[] y = sentinel(6);
        assertEquals(SENTINEL, x.get(0));
        // Two outputs sharing memory are rejected too.
        HostBuffer both = HostBuffer.wrap(y);
        rejects(IllegalArgumentException.class, () -> Kernels.execute(new BinaryDesc(BinaryOp.MUL, Shape.of(6), Shape.of(6), Pass.BACKWARD),
                Args.of(Arg.SRC, HostBuffer.wrap(ramp(6)), Arg.SRC2, HostBuffer.wrap(ramp(6)), Arg.DIFF_DST, HostBuffer.wrap(ramp(6)))
                        .put(Arg.DIFF_SRC, both).put(Arg.DIFF_SRC2, both)), y, "mul.bwd", "output DIFF_SRC overlaps argument DIFF_SRC2");
    }

    @Test void descriptorOfOtherOpsThroughFacade() {
        float[] dst = sentinel(2 * 3 * 4 * 4);
        ConvDesc conv = ConvDesc.conv2d(2, 3, 5, 5, 3, 2, 2, 1, 0);
        rejects(IllegalArgumentException.class, () -> Kernels.execute(conv,
                Args.of(Arg.SRC, HostBuffer.wrap(ramp(2 * 3 * 5 * 5 - 1)), Arg.WEIGHTS, HostBuffer.wrap(ramp(36)), Arg.DST, HostBuffer.wrap(dst))),
                dst, "conv", "argument SRC", "has 149", "needs 150", "n*c*h*w=2*3*5*5");
    }
}
