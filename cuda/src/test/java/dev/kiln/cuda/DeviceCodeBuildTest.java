package dev.kiln.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * build-device-code.sh on small sources of its own: it must fail on an nvcc error and on a ptxas error,
 * and without nvcc it must succeed, saying so, and record built=false.
 */
class DeviceCodeBuildTest {
    private static final Path SCRIPT = Path.of("build-device-code.sh");

    record Run(int exit, String output) {}

    private static Run run(Path src, Path dir, String nvcc) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString(), src.toString(), dir.resolve("out").toString(),
                dir.resolve("work").toString()).redirectErrorStream(true);
        if (nvcc != null) pb.environment().put("NVCC", nvcc);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "script timed out");
        return new Run(p.exitValue(), out);
    }

    private static Path source(Path dir, String body) throws IOException {
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("probe.cu"), body);
        return src;
    }

    private static String nvcc() {
        for (String c : new String[] {"/usr/local/bin/nvcc", "/usr/local/cuda/bin/nvcc"})
            if (Files.isExecutable(Path.of(c))) return c;
        return null;
    }

    @Test
    void withoutNvccTheBuildGoesOnAndSaysSo(@TempDir Path dir) throws Exception {
        Run r = run(source(dir, "extern \"C\" __global__ void k(float* x) { x[0] = 1.f; }\n"), dir, "none");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("nvcc not found: CUDA device code not built"), r.output());
        String marker = Files.readString(dir.resolve("out/device-code.properties"));
        assertTrue(marker.contains("built=false"), marker);
        try (var files = Files.list(dir.resolve("out"))) {
            assertFalse(files.anyMatch(f -> f.toString().endsWith(".ptx")), "no PTX without nvcc");
        }
    }

    @Test
    void aCompileErrorFailsTheBuild(@TempDir Path dir) throws Exception {
        String nvcc = nvcc();
        Assumptions.assumeTrue(nvcc != null, "nvcc not installed here");
        Run r = run(source(dir, "extern \"C\" __global__ void k(float* x) { x[0] = undefined_name; }\n"), dir, nvcc);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("undefined_name"), r.output());
        assertFalse(Files.exists(dir.resolve("out/probe.ptx")), "no PTX left behind");
    }

    @Test
    void anAssemblerErrorFailsTheBuild(@TempDir Path dir) throws Exception {
        String nvcc = nvcc();
        Assumptions.assumeTrue(nvcc != null, "nvcc not installed here");
        // Valid C++, but 120 KB of static shared memory is over ptxas's 48 KB limit.
        Run r = run(source(dir, """
                extern "C" __global__ void k(float* x) {
                    __shared__ float s[30000];
                    s[threadIdx.x] = x[threadIdx.x];
                    __syncthreads();
                    x[threadIdx.x] = s[29999 - threadIdx.x];
                }
                """), dir, nvcc);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("ptxas failed on probe.ptx for sm_80"), r.output());
        assertFalse(Files.exists(dir.resolve("out/probe.ptx")), "no PTX left behind");
    }

    @Test
    void aGoodKernelIsBuiltAndReported(@TempDir Path dir) throws Exception {
        String nvcc = nvcc();
        Assumptions.assumeTrue(nvcc != null, "nvcc not installed here");
        Run r = run(source(dir, "extern \"C\" __global__ void twice(float* x) { x[threadIdx.x] *= 2.f; }\n"), dir, nvcc);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().matches("(?s).*probe\\.ptx\\s+sm_80\\s+twice\\s+\\d+ registers, 0 B spill stores, 0 B spill loads.*"),
                r.output());
        assertTrue(Files.readString(dir.resolve("out/probe.ptx")).contains(".entry twice("));
        assertTrue(Files.readString(dir.resolve("out/device-code.properties")).contains("built=true"));
    }
}
