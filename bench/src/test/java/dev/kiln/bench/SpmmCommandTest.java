package dev.kiln.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln bench spmm} in-process on a tiny shape: the table, the checked results, the JSON keys, bad options. */
class SpmmCommandTest {
    static final Set<String> KEYS = Set.of("op", "backend", "format", "sparsity", "threads", "seconds", "dense_seconds", "ratio");

    @Test void tinyRunWritesCheckedRowsAndJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("spmm.json");
        BenchCommandTest.Run r = BenchCommandTest.bench("spmm", "--size", "64x48x40", "--block", "8x4", "--format", "csr,bsr,2:4",
                "--sparsity", "0.5,0.9", "--threads", "1,2", "--time", "0.02", "--warmup", "0.05", "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
        assertEquals((2 + 2 + 1) * 2, rows.size(), rows.toString()); // csr and bsr at two sparsities, 2:4 once; two thread counts
        for (Map<String, Object> row : rows) {
            assertEquals(KEYS, row.keySet());
            assertEquals("spmm", row.get("op"));
            assertEquals("cpu", row.get("backend"));
            double s = (Double) row.get("seconds"), d = (Double) row.get("dense_seconds");
            assertTrue(s > 0 && d > 0, row.toString());
            assertEquals(d / s, (Double) row.get("ratio"), 1e-3 * d / s + 1e-4, row.toString());
        }
        assertEquals(Set.of("csr", "bsr", "2:4"), Set.copyOf(rows.stream().map(x -> (String) x.get("format")).toList()));
        assertTrue(rows.stream().anyMatch(x -> x.get("format").equals("2:4") && (Double) x.get("sparsity") == 0.5));
        assertEquals(10, r.out().lines().filter(l -> l.startsWith("spmm ") && l.contains(" ok (vector-sparse)")).count(), r.out());
    }

    @Test void badOptionsAreRejected() {
        BenchCommandTest.Run r = BenchCommandTest.bench("spmm", "--format", "coo");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("bad format 'coo'"), r.err());
        r = BenchCommandTest.bench("spmm", "--sparsity", "1.0", "--size", "8x8x8");
        assertTrue(r.err().contains("sparsity must be in [0, 1)"), r.err());
        r = BenchCommandTest.bench("spmm", "--size", "8x6x8", "--format", "2:4");
        assertTrue(r.err().contains("2:4 needs k divisible by 4"), r.err());
        r = BenchCommandTest.bench("spmm", "--size", "8x8", "--format", "csr");
        assertTrue(r.err().contains("bad --size '8x8'"), r.err());
    }
}
