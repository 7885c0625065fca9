package dev.kiln.cuda;

import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.ReduceOp;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PTX that the build made (cuda/build-device-code.sh): one module per .cu file, each holding every
 * kernel the host code launches, for the architectures the loader expects. Needs no GPU, only nvcc at
 * build time; without it the build records built=false and these checks are skipped with that reason.
 */
class DeviceCodeTest {
    private static final Path SOURCES = Path.of("src/main/resources/dev/kiln/cuda");
    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(");

    private static void assumeBuilt() throws IOException {
        Properties marker = new Properties();
        try (InputStream in = DeviceCode.class.getResourceAsStream(DeviceCode.DIR + "device-code.properties")) {
            assertNotNull(in, "the build always writes device-code.properties, with or without nvcc");
            marker.load(in);
        }
        Assumptions.assumeTrue(Boolean.parseBoolean(marker.getProperty("built")),
                "CUDA device code not built: " + marker.getProperty("reason"));
    }

    @Test
    void everyCuFileIsAFamilyAndEveryFamilyHasItsPtx() throws IOException {
        assumeBuilt();
        TreeSet<String> files = new TreeSet<>();
        try (Stream<Path> list = Files.list(SOURCES)) {
            list.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".cu"))
                    .forEach(f -> files.add(f.substring(0, f.length() - 3)));
        }
        TreeSet<String> families = new TreeSet<>();
        for (DeviceCode.Family f : DeviceCode.Family.values()) families.add(f.file);
        assertEquals(families, files, ".cu files in " + SOURCES + " versus DeviceCode.Family");
        assertNull(DeviceCode.missing(), "the provider would say the device code is missing");
    }

    @Test
    void everyPtxDeclaresExactlyTheKernelsTheHostLaunches() throws IOException {
        assumeBuilt();
        for (DeviceCode.Family family : DeviceCode.Family.values()) {
            for (String resource : family.resources()) {
                String ptx = new String(DeviceCode.ptx(resource), StandardCharsets.US_ASCII);
                TreeSet<String> entries = new TreeSet<>();
                Matcher m = ENTRY.matcher(ptx);
                while (m.find()) entries.add(m.group(1));
                assertEquals(new TreeSet<>(family.entries()), entries, resource + ": .entry names");
                String target = resource.endsWith(".sm_90.ptx") ? "sm_90" : "sm_80";
                assertTrue(ptx.contains(".target " + target), resource + " should target " + target);
                assertEquals(0, ptx.charAt(ptx.length() - 1), "cuModuleLoadData needs the text NUL-terminated");
            }
        }
    }

    @Test
    void theSm90VariantIsChosenOnlyOnComputeCapability9() {
        DeviceCode.Family gemm = DeviceCode.Family.GEMM;
        assertEquals("/dev/kiln/cuda/gemm.sm_90.ptx", gemm.resource(9));
        for (int major : new int[] {7, 8, 10, 12}) assertEquals("/dev/kiln/cuda/gemm.ptx", gemm.resource(major));
        assertEquals("/dev/kiln/cuda/softmax.ptx", DeviceCode.Family.SOFTMAX.resource(9));
    }

    /** gemm.cu and reduce.cu take these enums as their ordinals; a reordering must show up here. */
    @Test
    void enumOrdinalsMatchTheDeviceCodes() {
        assertEquals(List.of("NONE", "RELU", "GELU", "SILU", "SIGMOID", "TANH"),
                Arrays.stream(Activation.values()).map(Enum::name).toList(), "activation codes in gemm.cu");
        assertEquals(0, ReduceOp.SUM.ordinal(), "OP_SUM in reduce.cu");
        assertEquals(1, ReduceOp.MEAN.ordinal(), "OP_MEAN in reduce.cu");
        assertEquals(2, ReduceOp.MAX.ordinal(), "OP_MAX in reduce.cu");
        assertEquals(List.of("ADD", "SUB", "MUL", "DIV", "MAX", "MIN"),
                Arrays.stream(dev.kiln.kernels.desc.BinaryOp.values()).map(Enum::name).toList(), "op codes in broadcast.cu");
    }

    @Test
    void noKernelUsesAtomicsSoEveryResultIsTheSameRunToRun() throws IOException {
        assumeBuilt();
        // Float atomics would make sums depend on scheduling; every kernel gathers instead (one owner per output).
        Pattern atomic = Pattern.compile("\\b(atom|red)\\.");
        for (DeviceCode.Family family : DeviceCode.Family.values())
            for (String resource : family.resources()) {
                String ptx = new String(DeviceCode.ptx(resource), StandardCharsets.US_ASCII);
                Matcher m = atomic.matcher(ptx);
                assertTrue(!m.find(), resource + " uses an atomic: " + (m.hitEnd() ? "" : ptx.substring(m.start(), Math.min(ptx.length(), m.start() + 40))));
            }
    }

    @Test
    void theTf32KernelsReallyUseTensorCores() throws IOException {
        assumeBuilt();
        String ptx = new String(DeviceCode.ptx(DeviceCode.Family.GEMM_TF32.resource(8)), StandardCharsets.US_ASCII);
        assertTrue(ptx.contains("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"), "mma.sync TF32 in gemm_tf32.ptx");
        assertTrue(ptx.contains("cvt.rna.tf32.f32"), "inputs rounded to TF32");
        assertTrue(!new String(DeviceCode.ptx(DeviceCode.Family.GEMM.resource(8)), StandardCharsets.US_ASCII).contains("mma.sync"),
                "the default kernel stays FFMA");
    }

    @Test
    void driverVersionNeededFollowsTheNvccVersion() throws IOException {
        assumeBuilt();
        String nvcc = DeviceCode.nvccVersion();
        String[] parts = nvcc.split("\\.");
        assertEquals(1000 * Integer.parseInt(parts[0]) + 10 * Integer.parseInt(parts[1]), DeviceCode.requiredDriverVersion(),
                "nvcc " + nvcc);
    }
}
