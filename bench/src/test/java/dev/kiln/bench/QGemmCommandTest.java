package dev.kiln.bench;

import dev.kiln.kernels.spi.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kiln bench qgemm} in-process on tiny shapes: checked rows, GEMV rows, the exact JSON keys, bad options; the
 * OpenCL backend (POCL here) with a declined type and absent backends.
 */
class QGemmCommandTest {
    static final Set<String> KEYS = Set.of("op", "backend", "type", "m", "n", "k", "threads", "gops", "sgemm_gflops", "ratio");

    @Test void tinyRunWritesCheckedRowsAndJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("qgemm.json");
        BenchCommandTest.Run r = BenchCommandTest.bench("qgemm", "--type", "s8,u8,s4,b1", "--sizes", "40x33x64,1x70x96",
                "--threads", "1,2", "--time", "0.02", "--warmup", "0.2", "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
        assertEquals(2 * 4 * 2, rows.size(), rows.toString());
        for (Map<String, Object> row : rows) {
            assertEquals(KEYS, row.keySet());
            assertEquals("cpu", row.get("backend"));
            double gops = (Double) row.get("gops"), sgemm = (Double) row.get("sgemm_gflops");
            assertTrue(gops > 0 && sgemm > 0, row.toString());
            assertEquals(gops / sgemm, (Double) row.get("ratio"), 1e-3 * gops / sgemm + 1e-4, row.toString());
            assertEquals(((Number) row.get("m")).intValue() == 1 ? "qgemv" : "qgemm", row.get("op"));
        }
        assertEquals(Set.of("s8", "u8", "s4", "b1"), Set.copyOf(rows.stream().map(x -> (String) x.get("type")).toList()));
        assertEquals(16, r.out().lines().filter(l -> l.startsWith("qgem") && l.contains(" ok (vector-qgemm)")).count(), r.out());
    }

    @Test void openclRowsOncePerCaseWithDeclinedAndAbsentBackends(@TempDir Path dir) throws Exception {
        Device device = SpmmCommandTest.openclDevice();
        Path json = dir.resolve("qgemm-opencl.json");
        BenchCommandTest.Run r = BenchCommandTest.bench("qgemm", "--backend", "opencl,opencl/nosuch,nosuch", "--type", "s8,s4,b1",
                "--sizes", "24x17x64,1x33x64", "--threads", "1,2", "--time", "0.01", "--warmup", "0", "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
        assertEquals(2 * 3, rows.size(), rows.toString()); // each shape and type once: --threads is the CPU backend's
        for (Map<String, Object> row : rows) {
            assertEquals(KEYS, row.keySet());
            assertEquals("opencl", row.get("backend"));
            assertEquals((double) Backends.deviceThreads(device), row.get("threads"), row.toString());
            double gops = (Double) row.get("gops"), sgemm = (Double) row.get("sgemm_gflops");
            assertTrue(gops > 0 && sgemm > 0, row.toString());
            assertEquals(gops / sgemm, (Double) row.get("ratio"), 1e-3 * gops / sgemm + 1e-4, row.toString());
        }
        assertEquals(6, r.out().lines().filter(l -> l.matches("qgem[mv] +opencl +.* ok \\(opencl-qgemm-.*\\)")).count(), r.out());
        assertEquals(6, r.out().lines().filter(l -> l.matches("qgem[mv] +opencl/nosuch +.*unsupported: opencl/nosuch: no nosuch qgemm implementation")).count(), r.out());
        assertEquals(1, r.out().lines().filter(l -> l.startsWith("# skip nosuch: nosuch: no such backend on the class path")).count(), r.out());
    }

    @Test void absentBackendGivesOneLineAndNoRows() {
        BenchCommandTest.Run r = BenchCommandTest.bench("qgemm", "--backend", "nosuch", "--sizes", "8x8x64", "--time", "0.01");
        assertEquals(1, r.exit(), "no rows is a failure: " + r.out() + r.err());
        assertEquals(1, r.out().lines().filter(l -> l.startsWith("# skip nosuch: ")).count(), r.out());
        assertTrue(r.out().contains("# nothing to measure: no requested backend is available"), r.out());
        assertTrue(r.out().lines().noneMatch(l -> l.startsWith("qgem")), r.out());
    }

    @Test void badOptionsAreRejected() {
        BenchCommandTest.Run r = BenchCommandTest.bench("qgemm", "--type", "s2");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("bad type 's2'"), r.err());
        r = BenchCommandTest.bench("qgemm", "--type", "s4", "--sizes", "8x8x40");
        assertTrue(r.err().contains("s4 needs k divisible by the group 32, got k=40"), r.err());
        r = BenchCommandTest.bench("qgemm", "--sizes", "8x8");
        assertTrue(r.err().contains("bad size '8x8'"), r.err());
    }
}
