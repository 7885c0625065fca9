package dev.kiln.bench;

import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code kiln bench spmm} in-process on tiny shapes: the table, the checked results, the JSON keys, bad options; the
 * OpenCL backend (POCL here) with a declined case and absent backends.
 */
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

    /** The first OpenCL device, or the test is skipped with the reason none opened. */
    static Device openclDevice() {
        try {
            return Backends.device("opencl");
        } catch (Backends.Unavailable e) {
            assumeTrue(false, "no OpenCL device: " + e.getMessage());
            throw new AssertionError(e);
        }
    }

    @Test void openclRowsOncePerCaseWithDeclinedAndAbsentBackends(@TempDir Path dir) throws Exception {
        Device device = openclDevice();
        Path json = dir.resolve("spmm-opencl.json");
        // opencl/nosuch: a backend whose named implementation does not exist, so every case is declined with a row
        BenchCommandTest.Run r = BenchCommandTest.bench("spmm", "--backend", "opencl,opencl/nosuch,nosuch", "--size", "40x32x24",
                "--block", "8x4", "--format", "csr,bsr,2:4", "--sparsity", "0.8", "--threads", "1,2", "--time", "0.01", "--warmup", "0",
                "--json", json.toString());
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) MiniJson.parse(Files.readString(json));
        assertEquals(3, rows.size(), rows.toString()); // each format once: --threads is the CPU backend's
        int threads = Backends.deviceThreads(device);
        if (device.kind() == DeviceKind.CPU) assertTrue(threads >= 1, "an OpenCL CPU device reports its compute units: " + device.properties());
        for (Map<String, Object> row : rows) {
            assertEquals(KEYS, row.keySet());
            assertEquals("opencl", row.get("backend"));
            assertEquals((double) threads, row.get("threads"), row.toString());
            double s = (Double) row.get("seconds"), d = (Double) row.get("dense_seconds");
            assertTrue(s > 0 && d > 0, row.toString());
            assertEquals(d / s, (Double) row.get("ratio"), 1e-3 * d / s + 1e-4, row.toString());
        }
        assertEquals(Set.of("csr", "bsr", "2:4"), Set.copyOf(rows.stream().map(x -> (String) x.get("format")).toList()));
        assertEquals(3, r.out().lines().filter(l -> l.matches("spmm +opencl +.* ok \\(opencl-spmm-(csr|bsr|2:4)\\)")).count(), r.out());
        assertEquals(3, r.out().lines().filter(l -> l.matches("spmm +opencl/nosuch +.*unsupported: opencl/nosuch: no nosuch spmm implementation")).count(), r.out());
        assertEquals(1, r.out().lines().filter(l -> l.startsWith("# skip nosuch: nosuch: no such backend on the class path")).count(), r.out());
    }

    @Test void absentBackendGivesOneLineAndNoRows(@TempDir Path dir) throws Exception {
        List<String> absent = new java.util.ArrayList<>(List.of("nosuch"));
        String cudaReason = null;
        try {
            Backends.device("cuda");
        } catch (Backends.Unavailable e) {
            absent.add("cuda"); // the usual case without an NVIDIA driver: its probe's reason
            cudaReason = e.getMessage();
        }
        Path json = dir.resolve("none.json");
        BenchCommandTest.Run r = BenchCommandTest.bench("spmm", "--backend", String.join(",", absent), "--size", "8x8x8", "--format", "csr", "--time", "0.01",
                "--json", json.toString());
        assertEquals(1, r.exit(), "no rows is a failure: " + r.out() + r.err());
        for (String b : absent) assertEquals(1, r.out().lines().filter(l -> l.startsWith("# skip " + b + ": ")).count(), r.out());
        if (cudaReason != null) assertTrue(r.out().contains("# skip cuda: " + cudaReason), r.out());
        assertTrue(r.out().contains("# nothing to measure: no requested backend is available"), r.out());
        assertTrue(r.out().lines().noneMatch(l -> l.startsWith("spmm ")), r.out());
        assertEquals(List.of(), MiniJson.parse(Files.readString(json)));
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
