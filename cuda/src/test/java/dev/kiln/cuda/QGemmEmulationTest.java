package dev.kiln.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * qgemm.cu's kernels run on the CPU without a GPU: the .cu source itself, less its two inline-asm functions
 * (dp4a u8 x s8 and mma.sync), is compiled by g++ inside {@code src/test/emulation/qgemm_emu.cpp}, which supplies
 * CUDA's thread model (a block of 256 OS threads, __syncthreads a barrier), those two instructions (mma.sync from
 * the PTX ISA's m16n8k32 fragment tables) and a plain-loop oracle written from RefQGemm, then checks every kernel
 * (s8 x s8 and u8 x s8 on dp4a and on tensor cores, each output s32 / f32 / s8; b1; s4; L-Mul) on awkward shapes,
 * several blocks included. Skipped, with the reason, where no g++ is found.
 */
class QGemmEmulationTest {
    private static final Path SOURCE = Path.of("src/main/resources/dev/kiln/cuda/qgemm.cu");
    private static final Path HARNESS = Path.of("src/test/emulation/qgemm_emu.cpp");

    /** qgemm.cu without the function that starts with {@code start} (up to its closing brace at column 0). */
    static String without(String source, String start) {
        int from = source.indexOf(start);
        assertTrue(from >= 0, "qgemm.cu should define: " + start);
        int to = source.indexOf("\n}\n", from);
        return source.substring(0, from) + source.substring(to + 3);
    }

    private static String gxx() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir, "g++");
            if (Files.isExecutable(p)) return p.toString();
        }
        return null;
    }

    private static String run(List<String> command, Path dir, int seconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        boolean done = p.waitFor(seconds, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish in " + seconds + " s:\n" + out);
        }
        assertEquals(0, p.exitValue(), String.join(" ", command) + ":\n" + out);
        return out;
    }

    @Test
    void everyKernelMatchesThePlainLoopsUnderEmulation(@TempDir Path dir) throws IOException, InterruptedException {
        String gxx = gxx();
        Assumptions.assumeTrue(gxx != null, "g++ not found on PATH: qgemm.cu not emulated on the CPU");
        String cu = Files.readString(SOURCE);
        cu = without(cu, "template <int KIND>\n__device__ __forceinline__ int word_mac");
        cu = without(cu, "template <bool U8>\n__device__ __forceinline__ void mma_i8");
        assertTrue(!cu.contains("asm(") && !cu.contains("asm volatile"), "every inline asm of qgemm.cu is emulated");
        Files.writeString(dir.resolve("qgemm_host.inc"), cu);
        Files.copy(HARNESS, dir.resolve("qgemm_emu.cpp"));
        for (String header : new String[] {"cuda_on_host.h", "block_workers.h"}) Files.copy(HARNESS.resolveSibling(header), dir.resolve(header));
        run(List.of(gxx, "-O1", "-std=c++20", "-ffp-contract=off", "-pthread", "-o", "qgemm_emu", "qgemm_emu.cpp"), dir, 300);
        // one output tile; tiles cut by m, n and k; rows of whole words (k = 64: the aligned loads) and of odd bytes;
        // several 64-wide blocks in both directions and two 128-wide ones along m
        List<String> command = new ArrayList<>(List.of(dir.resolve("qgemm_emu").toString(), "20261123", "1,1,1", "13,7,33", "70,65,64",
                "5,70,17", "130,3,40"));
        String out = run(command, dir, 300);
        String total = out.lines().filter(l -> l.startsWith("TOTAL")).findFirst().orElseThrow(() -> new AssertionError(out));
        assertTrue(total.matches("TOTAL [1-9][0-9]* checked, 0 bad"), out);
    }
}
