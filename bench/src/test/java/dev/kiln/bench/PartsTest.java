package dev.kiln.bench;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pieces behind the command: shape parsing, the result checks, the JSON writer, the peak loop. */
class PartsTest {
    @Test void shapesParse() {
        assertEquals(List.of(new GemmBench.Shape(128, 128, 128), new GemmBench.Shape(4096, 64, 4096)),
                GemmBench.Shape.parseList(GemmBench.Op.GEMM, "128, 4096x64x4096"));
        assertEquals(List.of(new GemmBench.Shape(1000, 1, 1000), new GemmBench.Shape(300, 1, 70)),
                GemmBench.Shape.parseList(GemmBench.Op.GEMV, "1000,300x70"));
        var e = assertThrows(IllegalArgumentException.class, () -> GemmBench.Shape.parseList(GemmBench.Op.GEMM, "0"));
        assertTrue(e.getMessage().contains("m=0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GemmBench.Shape.parseList(GemmBench.Op.GEMV, "3x4x5"));
        assertThrows(IllegalArgumentException.class, () -> GemmBench.Shape.parseList(GemmBench.Op.GEMM, " , "));
    }

    /** The checks must pass an exact product and catch one wrong element, a NaN left by the poison, and zeros. */
    @Test void checksCatchWrongResults() {
        GemmBench.Shape s = new GemmBench.Shape(13, 17, 7);
        GemmOperands ops = GemmOperands.random(s, 99);
        float[] c = new float[13 * 17];
        for (int i = 0; i < 13; i++)
            for (int j = 0; j < 17; j++) {
                double acc = 0;
                for (int p = 0; p < 7; p++) acc += (double) ops.a()[i * 7 + p] * ops.b()[p * 17 + j];
                c[i * 17 + j] = (float) acc;
            }
        assertEquals("ok", ops.check(c));
        assertEquals("ok", ops.checkReference(c));
        float[] wrong = c.clone();
        wrong[5 * 17 + 11] += 0.01f;
        assertTrue(ops.check(wrong).startsWith("WRONG row 5"), ops.check(wrong));
        assertTrue(ops.checkReference(wrong).startsWith("WRONG C[5,11]"), ops.checkReference(wrong));
        float[] nan = c.clone();
        nan[200] = Float.NaN;
        assertTrue(ops.check(nan).startsWith("WRONG"));
        assertTrue(ops.check(new float[c.length]).startsWith("WRONG"));
    }

    @Test void jsonHasExactlyTheKeysAndNullsForMissingFigures() {
        BenchRow withPeer = new BenchRow("gemm", "cpu", 3, 5, 7, 2, 1e-3, 10, 50, "openblas", 20, "ok");
        BenchRow noPeer = new BenchRow("gemm", "we\"ird\\", 3, 5, 7, 1, 1e-3, 10, Double.NaN, null, Double.NaN, "ok");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Report.json(List.of(withPeer, noPeer)));
        assertEquals(BenchCommandTest.KEYS, rows.get(0).keySet());
        assertEquals(0.5, rows.get(0).get("ratio"));
        assertEquals("we\"ird\\", rows.get(1).get("backend"));
        assertEquals(null, rows.get(1).get("ratio"));
        assertEquals(null, rows.get(1).get("peer_gflops"));
        assertEquals(List.of(), MiniJson.parse(Report.json(List.of())));
    }

    /** Each fma chain converges to c / (1 - m) = 1, so twelve chains of all lanes sum to 12 x lanes. */
    @Test void peakLoopComputesWhatItClaims() {
        float v = PeakBench.spin(200_000);
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        assertEquals(PeakBench.CHAINS * lanes, v, 1e-3 * PeakBench.CHAINS * lanes);
        assertEquals(FloatVector.SPECIES_PREFERRED.vectorBitSize(), PeakBench.vectorBits());
    }

    @Test void bandwidthSumIsTheSum() {
        try (Arena arena = Arena.ofConfined()) {
            int n = FloatVector.SPECIES_PREFERRED.length() * 4 * 37;
            MemorySegment seg = arena.allocate(4L * n, 64);
            double want = 0;
            for (int i = 0; i < n; i++) {
                float x = (i % 7) - 3;
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, x);
                want += x;
            }
            assertEquals(want, MemBench.sum(seg), 0);
        }
        MemBench.Bandwidth bw = MemBench.measure(2, 8L << 20, 1);
        assertTrue(bw.readGBps() > 0 && bw.copyGBps() > 0, bw.toString());
        assertEquals(0, bw.bytes() % (2L * FloatVector.SPECIES_PREFERRED.vectorByteSize() * 4));
    }

    @Test void timingTakesAtLeastThreeSamplesOfFastCalls() {
        int[] calls = {0};
        Timing t = Timing.measure(() -> calls[0]++, 0.01);
        assertTrue(t.samples() >= 3 && t.best() <= t.median(), t.toString());
        assertTrue(calls[0] > t.samples(), "warm-up calls come first");
    }
}
