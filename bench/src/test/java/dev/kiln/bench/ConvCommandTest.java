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

/** {@code kiln bench conv} and {@code kiln bench elementwise} in-process on tiny problems: tables, JSON, errors. */
class ConvCommandTest {
    static final Set<String> CONV_KEYS = Set.of("op", "backend", "shape", "direction", "threads", "seconds", "gflops", "pct_peak");
    static final Set<String> ELTWISE_KEYS = Set.of("op", "backend", "shape", "direction", "threads", "seconds", "gbps", "pct_bandwidth");

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> rows(Path json) throws Exception {
        return (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
    }

    @Test void convOnCpuWritesTableAndJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("conv.json");
        var r = BenchCommandTest.bench("conv", "--shape", "2,3,9,11,5,3,3,1,1,1", "4,6,7,7,6,3,3,2,1,6", "--threads", "1",
                "--backend", "cpu", "--time", "0.02", "--warmup", "0.1", "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        List<Map<String, Object>> rows = rows(json);
        assertEquals(6, rows.size(), rows.toString()); // two shapes x three directions
        for (Map<String, Object> row : rows) {
            assertEquals(CONV_KEYS, row.keySet());
            assertEquals("cpu", row.get("backend"));
            assertEquals(1.0, row.get("threads"));
            assertTrue((Double) row.get("seconds") > 0 && (Double) row.get("gflops") > 0 && (Double) row.get("pct_peak") > 0, row.toString());
        }
        assertEquals("conv", rows.get(0).get("op"));
        assertEquals("2,3,9,11,5,3,3,1,1,1", rows.get(0).get("shape"));
        assertEquals(List.of("fwd", "bwd-data", "bwd-weights"), rows.subList(0, 3).stream().map(m -> m.get("direction")).toList());
        assertEquals("depthwise", rows.get(3).get("op"));
        assertTrue(r.out().lines().filter(l -> l.startsWith("conv ") || l.startsWith("depthwise ")).allMatch(l -> l.contains(" ok (")), r.out());
    }

    @Test void convOptionErrorsAreUsageErrors() {
        var r = BenchCommandTest.bench("conv", "--shape", "1,2,3");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("bad shape '1,2,3' (use N,C,H,W,K,R,S,stride,pad,groups"), r.err());
        r = BenchCommandTest.bench("conv", "--shape", "1,4,8,8,6,3,3,1,1,3");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("groups=3 must divide c=4 and k=6"), r.err());
        r = BenchCommandTest.bench("conv", "--shape", "1,4,8,8,4,3,3,1,1,1", "--direction", "sideways");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("bad direction 'sideways'"), r.err());
    }

    @Test void elementwiseOnCpuWritesBandwidthJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("ew.json");
        var r = BenchCommandTest.bench("elementwise", "--ops", "relu,add,add-bias", "--sizes", "4096", "--threads", "1",
                "--backend", "cpu", "--time", "0.02", "--warmup", "0.1", "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        List<Map<String, Object>> rows = rows(json);
        assertEquals(6, rows.size(), rows.toString());
        for (Map<String, Object> row : rows) {
            assertEquals(ELTWISE_KEYS, row.keySet());
            assertTrue((Double) row.get("gbps") > 0 && (Double) row.get("pct_bandwidth") > 0, row.toString());
        }
        assertEquals("4x1024+1024", rows.get(4).get("shape"));
        assertEquals("bwd", rows.get(5).get("direction"));
        var bad = BenchCommandTest.bench("elementwise", "--ops", "frobnicate");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("unknown op 'frobnicate'"), bad.err());
    }
}
