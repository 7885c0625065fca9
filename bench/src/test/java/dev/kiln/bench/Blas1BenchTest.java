package dev.kiln.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code kiln bench blas1} on a tiny run (table, JSON keys, checks) and the OpenBLAS level-1 bindings it compares with. */
class Blas1BenchTest {
    static final Set<String> KEYS = Set.of("op", "backend", "n", "threads", "seconds", "gbps", "pct_bandwidth", "peer_gbps", "ratio");

    @Test void tinyRunWritesTableAndJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("blas1.json");
        var r = BenchCommandTest.bench("blas1", "--sizes", "4099", "--threads", "1", "--time", "0.02", "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        for (String op : List.of("sdot", "saxpy", "sscal")) assertTrue(r.out().contains(op), op + " row: " + r.out());
        assertEquals(3, r.out().split("ok \\(vector-blas1\\)", -1).length - 1, "three rows checked on the vector kernel: " + r.out());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
        assertEquals(3, rows.size(), rows.toString());
        for (Map<String, Object> row : rows) {
            assertEquals(KEYS, row.keySet());
            assertEquals(4099.0, row.get("n"));
            assertTrue((Double) row.get("gbps") > 0 && (Double) row.get("pct_bandwidth") > 0, row.toString());
            if (OpenBlas.load().isPresent()) assertTrue((Double) row.get("peer_gbps") > 0 && (Double) row.get("ratio") > 0, row.toString());
            else assertNull(row.get("ratio"));
        }
    }

    /** The JMH state outside JMH on a small vector: set-up checks it against the reference, calls count their bytes. */
    @Test void jmhStateChecksAndRuns() throws Exception {
        for (String op : List.of("DOT", "AXPY", "SCAL")) {
            Blas1Benchmark b = OpBenchmarkTest.on(new Blas1Benchmark(), "cpu");
            b.n = 1031;
            b.op = op;
            b.dtype = op.equals("AXPY") ? "F64" : "F32";
            try {
                b.setup();
                OpBenchmark.Rates rates = new OpBenchmark.Rates();
                b.op(rates);
                assertTrue(rates.gbyte > 0, op + ": bytes counted");
            } finally {
                b.tearDown();
            }
        }
    }

    @Test void badOpSaysWhich() {
        var r = BenchCommandTest.bench("blas1", "--ops", "dot,nrm2", "--threads", "1");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("unknown op 'nrm2' (use dot, axpy, scal)"), r.err());
    }

    /** The facade through dispatch (what a framework gets with kiln-all): the CPU's vector kernel, right answers. */
    @Test void facadeRunsTheVectorKernelThroughDispatch() {
        var decision = dev.kiln.dispatch.Dispatch.get().decide(dev.kiln.kernels.desc.Blas1Desc.dot(dev.kiln.kernels.DType.F32, 1000, 1, 1), null);
        assertEquals("vector-blas1", decision.implementation(), decision.toString());
        int n = 300007; // long enough for the pool
        float[] x = new float[n + 3], y = new float[2 * n];
        SplittableRandom r = new SplittableRandom(11);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble(-1, 1);
        for (int i = 0; i < y.length; i++) y[i] = (float) r.nextDouble(-1, 1);
        double want = 0, mag = 0;
        for (int i = 0; i < n; i++) { want += (double) x[3 + i] * y[2 * i]; mag += Math.abs((double) x[3 + i] * y[2 * i]); }
        assertEquals(want, dev.kiln.kernels.Blas.sdot(n, x, 3, 1, y, 0, 2), 32 * 0x1p-24 * mag);
        float[] y0 = y.clone();
        dev.kiln.kernels.Blas.saxpy(n, 0.5f, x, 3, 1, y, 0, 2);
        for (int i = 0; i < n; i += 997) assertEquals(Math.fma(0.5f, x[3 + i], y0[2 * i]), y[2 * i], "saxpy element " + i);
        for (int i = 1; i < y.length; i += 2) assertEquals(y0[i], y[i], "element between the strides");
        float[] a = new float[6 * 4], v = {1, 2, 3, 4, 5, 6}, w = new float[4];
        for (int i = 0; i < a.length; i++) a[i] = i;
        dev.kiln.kernels.Blas.sgemv(dev.kiln.kernels.desc.Transpose.T, 6, 4, 1f, a, 0, 4, v, 0, 1, 0f, w, 0, 1);
        for (int c = 0; c < 4; c++) {
            float e = 0;
            for (int row = 0; row < 6; row++) e += a[row * 4 + c] * v[row];
            assertEquals(e, w[c], 1e-4, "sgemv T column " + c);
        }
    }

    @Test void openBlasLevel1MatchesPlainLoops() {
        var blas = OpenBlas.load();
        assumeTrue(blas.isPresent(), () -> "OpenBLAS absent: " + OpenBlas.absentReason());
        SplittableRandom r = new SplittableRandom(5);
        int n = 257, incx = 2, incy = 3;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(ValueLayout.JAVA_FLOAT, (long) (n - 1) * incx + 1);
            MemorySegment y = arena.allocate(ValueLayout.JAVA_FLOAT, (long) (n - 1) * incy + 1);
            for (long i = 0; i < x.byteSize() / 4; i++) x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
            for (long i = 0; i < y.byteSize() / 4; i++) y.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
            double want = 0;
            for (int i = 0; i < n; i++) want += (double) x.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * incx) * y.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * incy);
            assertEquals(want, blas.get().sdot(n, x, incx, y, incy), 1e-4);
            float y5 = y.getAtIndex(ValueLayout.JAVA_FLOAT, 5L * incy), x5 = x.getAtIndex(ValueLayout.JAVA_FLOAT, 5L * incx);
            float gap = y.getAtIndex(ValueLayout.JAVA_FLOAT, 1);
            blas.get().saxpy(n, 2f, x, incx, y, incy);
            assertEquals(2f * x5 + y5, y.getAtIndex(ValueLayout.JAVA_FLOAT, 5L * incy), 1e-6);
            assertEquals(gap, y.getAtIndex(ValueLayout.JAVA_FLOAT, 1), "saxpy wrote between the strides");
            blas.get().sscal(n, -0.5f, x, incx);
            assertEquals(-0.5f * x5, x.getAtIndex(ValueLayout.JAVA_FLOAT, 5L * incx));
            var e = assertThrows(IllegalArgumentException.class, () -> blas.get().sdot(n, x, incx, y, 5));
            assertTrue(e.getMessage().contains("sdot: y has"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> blas.get().sscal(3, 1f, MemorySegment.ofArray(new float[3]), 1));
        }
    }
}
