package dev.kiln.cuda;

import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.desc.UnaryOp;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * The PTX built from {@code resources/dev/kiln/cuda/*.cu} by {@code cuda/build-device-code.sh}, one module
 * per op family, read from the class path. The build also writes {@code device-code.properties}: whether
 * nvcc was there ({@code built}), its version, and the PTX files. Knows no JCuda class, so the provider's
 * probe can ask it before any native code loads.
 */
final class DeviceCode {
    static final String DIR = "/dev/kiln/cuda/";
    private static final String MARKER = DIR + "device-code.properties";

    /** One .cu file, its kernels' entry names and whether the build makes an sm_90 variant of it. */
    enum Family {
        GEMM("gemm", true, gemmEntries("sgemm_")),
        GEMM_TF32("gemm_tf32", false, gemmEntries("sgemm_tf32_")),
        ELEMENTWISE("elementwise", false, elementwiseEntries()),
        SOFTMAX("softmax", false, List.of(SOFTMAX_ROWS_FWD, SOFTMAX_ROWS_BWD, SOFTMAX_COLS_FWD, SOFTMAX_COLS_BWD)),
        REDUCE("reduce", false, List.of(REDUCE_ROWS, REDUCE_COLS, ARGMAX_ROWS, ARGMAX_COLS)),
        BROADCAST("broadcast", false, List.of(BROADCAST_FWD, BROADCAST_BWD)),
        CONV("conv", false, convEntries()),
        IM2COL("im2col", false, List.of(IM2COL_ENTRY, COL2IM, CONV_BIAS_ADD)),
        NORM("norm", false, List.of(NORM_FWD_TRAIN, NORM_INFERENCE, NORM_BWD, NORM_PARAM_GRAD)),
        POOL("pool", false, List.of("pool_max_fwd", "pool_avg_fwd", "pool_max_bwd", "pool_avg_bwd")),
        PIXEL_SHUFFLE("pixel_shuffle", false, List.of(DeviceCode.PIXEL_SHUFFLE)),
        SPARSE("sparse", false, CudaSparseLaunch.ENTRIES),
        QGEMM("qgemm", false, List.of(QGEMM_S8S8_DP4A, QGEMM_U8S8_DP4A, QGEMM_B1_POPC, QGEMM_S8S8_MMA, QGEMM_U8S8_MMA,
                QGEMM_S4, QGEMM_LMUL)),
        QUANTIZE("quantize", false, List.of(QUANTIZE_SCALES, QUANTIZE_ELEMS, QUANTIZE_S4_PAIRS, QUANTIZE_B1_BYTES)),
        CONVERT("convert", false, List.of("convert_f32_f16", "convert_f16_f32", "convert_f32_bf16", "convert_bf16_f32"));

        final String file;
        final boolean hasSm90;
        private final List<String> entries;

        Family(String file, boolean hasSm90, List<String> entries) {
            this.file = file;
            this.hasSm90 = hasSm90;
            this.entries = entries;
        }

        /** Every kernel name the host code launches from this family's module. */
        List<String> entries() { return entries; }

        /** The resource to load on a device of compute capability {@code major}: sm_90 tuned code on 9.x. */
        String resource(int major) {
            return DIR + file + (hasSm90 && major == 9 ? ".sm_90.ptx" : ".ptx");
        }

        List<String> resources() {
            return hasSm90 ? List.of(DIR + file + ".ptx", DIR + file + ".sm_90.ptx") : List.of(DIR + file + ".ptx");
        }
    }

    // Kernel names, as the .cu files declare them (extern "C"). A test checks each against the PTX.
    static final String SOFTMAX_ROWS_FWD = "softmax_rows_fwd", SOFTMAX_ROWS_BWD = "softmax_rows_bwd";
    static final String SOFTMAX_COLS_FWD = "softmax_cols_fwd", SOFTMAX_COLS_BWD = "softmax_cols_bwd";
    static final String REDUCE_ROWS = "reduce_rows", REDUCE_COLS = "reduce_cols";
    static final String ARGMAX_ROWS = "argmax_rows", ARGMAX_COLS = "argmax_cols";
    static final String BROADCAST_FWD = "broadcast_fwd", BROADCAST_BWD = "broadcast_bwd";
    static final String CONV_BIAS_GRAD = "conv_bias_grad";
    static final String IM2COL_ENTRY = "im2col", COL2IM = "col2im", CONV_BIAS_ADD = "conv_bias_add";
    static final String NORM_FWD_TRAIN = "norm_fwd_train", NORM_INFERENCE = "norm_inference";
    static final String NORM_BWD = "norm_bwd", NORM_PARAM_GRAD = "norm_param_grad";
    static final String PIXEL_SHUFFLE = "pixel_shuffle";
    static final String QGEMM_S8S8_DP4A = "qgemm_s8s8_dp4a", QGEMM_U8S8_DP4A = "qgemm_u8s8_dp4a", QGEMM_B1_POPC = "qgemm_b1_popc";
    static final String QGEMM_S8S8_MMA = "qgemm_s8s8_mma", QGEMM_U8S8_MMA = "qgemm_u8s8_mma";
    static final String QGEMM_S4 = "qgemm_s4", QGEMM_LMUL = "qgemm_lmul";
    static final String QUANTIZE_SCALES = "quantize_scales", QUANTIZE_ELEMS = "quantize_elems";
    static final String QUANTIZE_S4_PAIRS = "quantize_s4_pairs", QUANTIZE_B1_BYTES = "quantize_b1_bytes";
    /** The channel tiles conv.cu instantiates its kernels for (conv_fwd_T, conv_data_T, conv_weights_T). */
    static final List<Integer> CONV_TILES = List.of(1, 4, 8);

    /** sgemm_nn, sgemm_nt, sgemm_tn or sgemm_tt. */
    static String gemmEntry(Transpose a, Transpose b) { return gemmEntry("sgemm_", a, b); }

    /** sgemm_tf32_nn ... sgemm_tf32_tt: the tensor-core variants. */
    static String tf32Entry(Transpose a, Transpose b) { return gemmEntry("sgemm_tf32_", a, b); }

    private static String gemmEntry(String prefix, Transpose a, Transpose b) {
        return prefix + a.name().toLowerCase(Locale.ROOT) + b.name().toLowerCase(Locale.ROOT);
    }

    /** e.g. gelu_fwd, gelu_bwd. */
    static String unaryEntry(UnaryOp op, Pass pass) { return op.lower() + (pass == Pass.FORWARD ? "_fwd" : "_bwd"); }

    /** e.g. add_fwd, max_bwd. */
    static String binaryEntry(BinaryOp op, Pass pass) { return op.lower() + (pass == Pass.FORWARD ? "_fwd" : "_bwd"); }

    private static List<String> gemmEntries(String prefix) {
        List<String> names = new ArrayList<>();
        for (Transpose a : Transpose.values()) for (Transpose b : Transpose.values()) names.add(gemmEntry(prefix, a, b));
        return List.copyOf(names);
    }

    private static List<String> convEntries() {
        List<String> names = new ArrayList<>();
        for (String map : List.of("conv_fwd_", "conv_data_", "conv_weights_"))
            for (int t : CONV_TILES) names.add(map + t);
        names.add(CONV_BIAS_GRAD);
        return List.copyOf(names);
    }

    private static List<String> elementwiseEntries() {
        List<String> names = new ArrayList<>();
        for (Pass pass : Pass.values()) {
            for (UnaryOp op : UnaryOp.values()) names.add(unaryEntry(op, pass));
            for (BinaryOp op : BinaryOp.values()) names.add(binaryEntry(op, pass));
        }
        return List.copyOf(names);
    }

    private DeviceCode() {}

    /** Null when every family's PTX is on the class path, else the reason the backend cannot run. */
    static String missing() {
        Properties marker = marker();
        if (marker == null) return "no device code built (" + MARKER.substring(1) + " is not on the class path)";
        if (!Boolean.parseBoolean(marker.getProperty("built")))
            return "no device code built (nvcc was missing at build time)";
        for (Family f : Family.values())
            for (String r : f.resources())
                if (DeviceCode.class.getResource(r) == null) return "no device code built (" + r.substring(1) + " is missing)";
        return null;
    }

    /**
     * The CUDA version the PTX needs from the driver, in the driver's encoding (1000 * major + 10 * minor):
     * a driver older than the nvcc that wrote the PTX rejects it. 0 if unknown.
     */
    static int requiredDriverVersion() {
        Properties marker = marker();
        String nvcc = marker == null ? null : marker.getProperty("nvcc");
        if (nvcc == null) return 0;
        String[] parts = nvcc.trim().split("\\.");
        try {
            return 1000 * Integer.parseInt(parts[0]) + (parts.length > 1 ? 10 * Integer.parseInt(parts[1]) : 0);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The nvcc version recorded by the build, or "unknown". */
    static String nvccVersion() {
        Properties marker = marker();
        return marker == null ? "unknown" : marker.getProperty("nvcc", "unknown");
    }

    /** The PTX text of {@code resource}, NUL-terminated as cuModuleLoadData wants it. */
    static byte[] ptx(String resource) {
        try (InputStream in = DeviceCode.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("cuda: device code " + resource + " is not on the class path");
            byte[] text = in.readAllBytes();
            return Arrays.copyOf(text, text.length + 1);
        } catch (IOException e) {
            throw new UncheckedIOException("cuda: reading " + resource, e);
        }
    }

    private static Properties marker() {
        try (InputStream in = DeviceCode.class.getResourceAsStream(MARKER)) {
            if (in == null) return null;
            Properties p = new Properties();
            p.load(in);
            return p;
        } catch (IOException e) {
            return null;
        }
    }
}
