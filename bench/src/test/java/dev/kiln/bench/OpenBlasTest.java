package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The OpenBLAS peer against the reference GEMM on awkward sizes, all transposes, padded leading dimensions. */
class OpenBlasTest {
    static final long SEED = 20261123L;
    static final int[][] SHAPES = {{1, 1, 1}, {3, 7, 13}, {17, 1, 127}, {13, 17, 3}, {127, 257, 7}, {64, 33, 1000}};

    static OpenBlas blas;

    @BeforeAll static void load() {
        blas = OpenBlas.load().orElse(null);
        if (blas == null) System.out.println("OpenBLAS tests skipped: " + OpenBlas.absentReason());
        else System.out.println("OpenBLAS: " + blas.config() + " at " + blas.location() + ", seed " + SEED);
    }

    @Test void absentReasonIsOneLineOrEmpty() {
        String reason = OpenBlas.absentReason();
        assertEquals(blas == null, !reason.isEmpty(), reason);
        assertTrue(!reason.contains("\n"), reason);
    }

    @Test void sgemmMatchesReference() {
        assumeTrue(blas != null, () -> "OpenBLAS absent: " + OpenBlas.absentReason());
        for (int[] s : SHAPES) for (boolean ta : new boolean[] {false, true}) for (boolean tb : new boolean[] {false, true})
            gemm(DType.F32, s[0], s[1], s[2], ta, tb);
    }

    @Test void dgemmMatchesReference() {
        assumeTrue(blas != null, () -> "OpenBLAS absent: " + OpenBlas.absentReason());
        for (int[] s : SHAPES) gemm(DType.F64, s[0], s[1], s[2], s[0] % 2 == 1, s[1] % 2 == 0);
    }

    /** Runs one GEMM with alpha 1.5, beta -0.5, each leading dimension padded by 3, on seeded operands. */
    private static void gemm(DType dt, int m, int n, int k, boolean ta, boolean tb) {
        Transpose tA = ta ? Transpose.T : Transpose.N, tB = tb ? Transpose.T : Transpose.N;
        GemmDesc d = GemmDesc.of(dt, tA, tB, m, n, k, 1.5, -0.5);
        d = d.withLeadingDims(d.lda() + 3, d.ldb() + 3, d.ldc() + 3);
        SplittableRandom r = new SplittableRandom(SEED + m * 1_000_003L + n * 1009L + k);
        long na = (long) d.rowsA() * d.lda(), nb = (long) d.rowsB() * d.ldb(), nc = (long) m * d.ldc();
        double[] a = random(r, na), b = random(r, nb), c = random(r, nc);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = put(arena, dt, a), sb = put(arena, dt, b), sc = put(arena, dt, c);
            MemorySegment ra = put(arena, dt, a), rb = put(arena, dt, b), rc = put(arena, dt, c);
            if (dt == DType.F32) blas.sgemm(ta, tb, m, n, k, 1.5f, sa, d.lda(), sb, d.ldb(), -0.5f, sc, d.ldc());
            else blas.dgemm(ta, tb, m, n, k, 1.5, sa, d.lda(), sb, d.ldb(), -0.5, sc, d.ldc());
            RefKernels.run(d, Args.of(Arg.A, HostBuffer.wrap(ra, dt), Arg.B, HostBuffer.wrap(rb, dt), Arg.C, HostBuffer.wrap(rc, dt)));
            double eps = dt == DType.F32 ? 0x1p-23 : 0x1p-52;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < d.ldc(); j++) {
                    long at = (long) i * d.ldc() + j;
                    double got = get(sc, dt, at), want = get(rc, dt, at);
                    // Padding beyond n must be untouched; inside, 4(k+2)·eps of the magnitude bound 1.5k + 0.5.
                    double tol = j < n ? 4 * (k + 2) * eps * (1.5 * k + 0.5) : 0;
                    String where = dt.lower() + "gemm " + (ta ? "T" : "N") + (tb ? "T" : "N") + " m=" + m + " n=" + n + " k=" + k
                            + " at (" + i + "," + j + ") seed " + SEED;
                    assertEquals(want, got, tol, where);
                }
            }
        }
    }

    @Test void sgemvMatchesReference() {
        assumeTrue(blas != null, () -> "OpenBLAS absent: " + OpenBlas.absentReason());
        for (int[] s : SHAPES) {
            int m = s[0], n = s[2];
            SplittableRandom r = new SplittableRandom(SEED + m * 31L + n);
            double[] a = random(r, (long) m * n), x = random(r, n);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment sa = put(arena, DType.F32, a), sx = put(arena, DType.F32, x), sy = arena.allocate(4L * m, 64);
                sy.fill((byte) 0xFF); // NaN everywhere: beta = 0 must not read y
                blas.sgemv(m, n, 1f, sa, n, sx, 0f, sy);
                MemorySegment ry = arena.allocate(4L * m, 64);
                RefKernels.run(GemmDesc.of(m, 1, n), Args.of(Arg.A, HostBuffer.wrap(put(arena, DType.F32, a), DType.F32),
                        Arg.B, HostBuffer.wrap(put(arena, DType.F32, x), DType.F32), Arg.C, HostBuffer.wrap(ry, DType.F32)));
                for (int i = 0; i < m; i++)
                    assertEquals(get(ry, DType.F32, i), get(sy, DType.F32, i), 4 * (n + 2) * 0x1p-23 * n, "sgemv m=" + m + " n=" + n + " row " + i);
            }
        }
    }

    @Test void threadCountIsSetAndRead() {
        assumeTrue(blas != null, () -> "OpenBLAS absent: " + OpenBlas.absentReason());
        assumeTrue(blas.threads() >= 0, "openblas_get_num_threads not exported");
        int before = blas.threads();
        try {
            blas.setThreads(1);
            assertEquals(1, blas.threads());
        } finally {
            blas.setThreads(Math.max(1, before));
        }
        assertThrows(IllegalArgumentException.class, () -> blas.setThreads(0));
    }

    @Test void rejectsHeapSegmentsAndShortOperands() {
        assumeTrue(blas != null, () -> "OpenBLAS absent: " + OpenBlas.absentReason());
        MemorySegment heap = MemorySegment.ofArray(new float[16]);
        var e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm(false, false, 4, 4, 4, 1, heap, 4, heap, 4, 0, heap, 4));
        assertTrue(e.getMessage().contains("native"), e.getMessage());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = arena.allocate(60), ok = arena.allocate(64);
            e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm(false, false, 4, 4, 4, 1, small, 4, ok, 4, 0, ok, 4));
            assertTrue(e.getMessage().contains("60 bytes, needs 64"), e.getMessage());
        }
    }

    private static double[] random(SplittableRandom r, long n) {
        double[] v = new double[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = r.nextDouble() * 2 - 1;
        return v;
    }

    private static MemorySegment put(Arena arena, DType dt, double[] v) {
        MemorySegment s = arena.allocate(Math.max(1, dt.bytes(v.length)), 64).asSlice(0, dt.bytes(v.length));
        for (int i = 0; i < v.length; i++) {
            if (dt == DType.F32) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v[i]);
            else s.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v[i]);
        }
        return s;
    }

    private static double get(MemorySegment s, DType dt, long i) {
        return dt == DType.F32 ? s.getAtIndex(ValueLayout.JAVA_FLOAT, i) : s.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
    }
}
