package dev.kiln.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln bench} run in-process on tiny problems: the table, the JSON file, argument errors. */
class BenchCommandTest {
    static final Set<String> KEYS = Set.of("op", "backend", "m", "n", "k", "threads", "gflops", "peer", "peer_gflops", "ratio");

    record Run(int exit, String out, String err) {}

    static Run bench(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int exit = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test void gemmOnCpuWritesTableAndJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("out/gemm.json");
        Run r = bench("gemm", "--sizes", "64", "--threads", "1", "--backend", "cpu", "--time", "0.05", "--warmup", "0.3", "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("64x64x64"), r.out());
        assertTrue(r.out().contains("ok ("), "the result was checked: " + r.out());

        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
        assertEquals(1, rows.size(), rows.toString());
        Map<String, Object> row = rows.getFirst();
        assertEquals(KEYS, row.keySet());
        assertEquals("gemm", row.get("op"));
        assertEquals("cpu", row.get("backend"));
        for (String k : List.of("m", "n", "k")) assertEquals(64.0, row.get(k), k);
        assertEquals(1.0, row.get("threads"));
        assertTrue((Double) row.get("gflops") > 0, row.toString());
        if (OpenBlas.load().isPresent()) {
            assertEquals("openblas", row.get("peer"));
            double ratio = (Double) row.get("ratio"), peer = (Double) row.get("peer_gflops");
            assertTrue(peer > 0 && ratio > 0, row.toString());
            // The JSON rounds to 4 decimals; the ratio is computed from unrounded figures.
            assertEquals((Double) row.get("gflops") / peer, ratio, 1e-3 * ratio + 1e-4, row.toString());
        } else {
            System.out.println("no peer column: " + OpenBlas.absentReason());
            assertNull(row.get("peer"));
            assertNull(row.get("ratio"));
        }
    }

    @Test void gemvOnCpuUsesTheGemvPeer(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("gemv.json");
        Run r = bench("gemv", "--sizes", "37x29", "--threads", "1", "--backend", "cpu", "--time", "0.05", "--warmup", "0.3", "--json", json.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
        assertEquals(1, rows.size());
        assertEquals(KEYS, rows.getFirst().keySet());
        assertEquals("gemv", rows.getFirst().get("op"));
        assertEquals(37.0, rows.getFirst().get("m"));
        assertEquals(1.0, rows.getFirst().get("n"));
        assertEquals(29.0, rows.getFirst().get("k"));
    }

    @Test void missingBackendIsSkippedWithReason() {
        Run r = bench("gemm", "--sizes", "8", "--threads", "1", "--backend", "nosuch", "--time", "0.01");
        assertNotEquals(0, r.exit(), "no rows is a failure");
        assertTrue(r.out().contains("# skip nosuch: nosuch: no such backend"), r.out());
    }

    @Test void badSizeIsAUsageError() {
        Run r = bench("gemm", "--sizes", "12x7");
        assertEquals(2, r.exit(), r.out() + r.err());
        assertTrue(r.err().contains("bad size '12x7' (use N or MxNxK)"), r.err());
        r = bench("gemm", "--sizes", "64", "--threads", "0");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("threads must be >= 1, got 0"), r.err());
    }

    @Test void peakPrintsPositiveFigures() {
        Run r = bench("peak", "--threads", "1", "--mb", "16");
        assertEquals(0, r.exit(), r.err());
        String[] lines = r.out().lines().filter(l -> l.startsWith("1 ")).toArray(String[]::new);
        assertEquals(2, lines.length, r.out());
        for (String l : lines) {
            String[] f = l.trim().split("\\s+");
            for (int i = 1; i < f.length; i++) assertTrue(Double.parseDouble(f[i]) > 0, l);
        }
        assertFalse(r.out().contains("NaN"), r.out());
    }
}
