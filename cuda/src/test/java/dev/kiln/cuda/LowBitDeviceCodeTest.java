package dev.kiln.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PTX of qgemm.cu, quantize.cu and convert.cu uses the instructions it was written for, kernel by kernel:
 * dp4a in the CUDA-core int8 kernels (the signed and the unsigned-by-signed form), the s8/u8 m16n8k32 mma.sync
 * in the tensor-core ones, popc in the binary GEMM; and the exactly rounded operations the reference's bits
 * depend on (no fused multiply-add where the reference rounds twice). Needs nvcc at build time, no GPU.
 */
class LowBitDeviceCodeTest {
    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(");

    private static String ptx(DeviceCode.Family family) throws IOException {
        Properties marker = new Properties();
        try (InputStream in = DeviceCode.class.getResourceAsStream(DeviceCode.DIR + "device-code.properties")) {
            assertNotNull(in, "the build always writes device-code.properties");
            marker.load(in);
        }
        Assumptions.assumeTrue(Boolean.parseBoolean(marker.getProperty("built")), "CUDA device code not built: " + marker.getProperty("reason"));
        return new String(DeviceCode.ptx(family.resource(8)), StandardCharsets.US_ASCII);
    }

    /** The body of kernel {@code entry}: from its .entry to the next one (device functions are inlined). */
    private static String body(String ptx, String entry) {
        Matcher m = ENTRY.matcher(ptx);
        int start = -1, end = ptx.length();
        while (m.find()) {
            if (start >= 0) {
                end = m.start();
                break;
            }
            if (m.group(1).equals(entry)) start = m.start();
        }
        assertTrue(start >= 0, "no .entry " + entry);
        return ptx.substring(start, end);
    }

    @Test
    void int8KernelsUseDp4aOrIntegerTensorCores() throws IOException {
        String ptx = ptx(DeviceCode.Family.QGEMM);
        String s8 = body(ptx, DeviceCode.QGEMM_S8S8_DP4A), u8 = body(ptx, DeviceCode.QGEMM_U8S8_DP4A);
        assertTrue(s8.contains("dp4a.s32.s32"), "s8 x s8 dp4a");
        assertTrue(u8.contains("dp4a.u32.s32"), "u8 x s8 dp4a");
        assertFalse(s8.contains("mma.sync") || u8.contains("mma.sync"), "the dp4a kernels use no tensor cores");
        assertTrue(body(ptx, DeviceCode.QGEMM_S8S8_MMA).contains("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32"), "s8 mma");
        assertTrue(body(ptx, DeviceCode.QGEMM_U8S8_MMA).contains("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32"), "u8 x s8 mma");
        assertTrue(body(ptx, DeviceCode.QGEMM_B1_POPC).contains("popc.b32"), "binary GEMM counts bits with popc");
        assertFalse(body(ptx, DeviceCode.QGEMM_B1_POPC).contains("dp4a"));
    }

    /** The scaled outputs multiply in double (mul.rn.f64, never fma) and round once to f32 (cvt.rn.f32.f64). */
    @Test
    void theRequantisingEpilogueRoundsLikeTheReference() throws IOException {
        String ptx = ptx(DeviceCode.Family.QGEMM);
        for (String entry : List.of(DeviceCode.QGEMM_S8S8_DP4A, DeviceCode.QGEMM_U8S8_MMA, DeviceCode.QGEMM_B1_POPC)) {
            String body = body(ptx, entry);
            assertTrue(body.contains("mul.rn.f64"), entry + ": scale products in double");
            assertTrue(body.contains("cvt.rn.f32.f64"), entry + ": one rounding to f32");
            assertTrue(body.contains("cvt.rni.f64.f64"), entry + ": s8 requantisation rounds half to even (rint)");
            assertFalse(body.contains("fma.rn.f64"), entry + ": no fused double multiply-add");
        }
    }

    /** x / s is a correctly rounded division and the (q - z) * s, (x + 1) / 2 steps are never fused. */
    @Test
    void quantisationUsesExactlyRoundedSteps() throws IOException {
        String ptx = ptx(DeviceCode.Family.QUANTIZE);
        for (String entry : List.of(DeviceCode.QUANTIZE_ELEMS, DeviceCode.QUANTIZE_S4_PAIRS, DeviceCode.QUANTIZE_B1_BYTES)) {
            String body = body(ptx, entry);
            assertFalse(body.contains("div.approx") || body.contains("div.full"), entry + ": no approximate division");
            assertFalse(body.contains("fma.rn.f32"), entry + ": nothing fused");
        }
        assertTrue(body(ptx, DeviceCode.QUANTIZE_ELEMS).contains("div.rn.f32"), "x / s correctly rounded");
        assertTrue(body(ptx, DeviceCode.QUANTIZE_SCALES).contains("div.rn.f64"), "the b1 mean divides in double");
        String convert = ptx(DeviceCode.Family.CONVERT);
        assertFalse(convert.contains("cvt.rn.f16.f32"), "f16 rounding is done on the bits, not by the GPU's cvt");
    }
}
