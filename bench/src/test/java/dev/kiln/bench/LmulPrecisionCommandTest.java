package dev.kiln.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code kiln bench lmul-precision}: the fp8 roundings against values worked by hand, error figures in the
 * ranges the formats allow, the note when no activations are given, and reading a safetensors file.
 */
class LmulPrecisionCommandTest {

    @Test void fp8RoundingByHand() {
        assertEquals(1.125f, LmulPrecision.e4m3(1.1f));          // steps of 1/8 in [1, 2)
        assertEquals(1.0f, LmulPrecision.e4m3(1.0625f), "tie to even");
        assertEquals(448f, LmulPrecision.e4m3(1000f), "saturates");
        assertEquals(0x1p-9f, LmulPrecision.e4m3(0x1.2p-9f), "smallest subnormal");
        assertEquals(1.25f, LmulPrecision.e5m2(1.2f));           // steps of 1/4
        assertEquals(-57344f, LmulPrecision.e5m2(-1e6f));
        assertEquals(0f, LmulPrecision.e5m2(0x1p-18f), "below half the smallest subnormal");
    }

    @Test void errorsAreWithinWhatTheFormatsAllow() {
        // inputs in [0.5, 2): normal in both fp8 formats, where rounding each input to m bits errs by at most
        // 2^-(m+1) relatively, the product by about twice that
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        float[] x = new float[20000], y = new float[20000];
        for (int i = 0; i < x.length; i++) { x[i] = (float) r.nextDouble(0.5, 2); y[i] = (float) -r.nextDouble(0.5, 2); }
        LmulPrecision.Errors n = LmulPrecision.measure("normal range", x, y);
        assertEquals(20000, n.pairs());
        assertTrue(n.max()[2] <= 2.1 * 0x1p-4 && n.mean()[2] > 0.005, "e4m3 " + n.max()[2]);
        assertTrue(n.max()[3] <= 2.1 * 0x1p-3 && n.mean()[3] > n.mean()[2], "e5m2 " + n.max()[3]);
        float[][] p = LmulPrecision.normalPairs(1, 20000);
        LmulPrecision.Errors e = LmulPrecision.measure("normal", p[0], p[1]);
        assertEquals(20000, e.pairs(), 5);
        assertTrue(e.max()[2] >= 0.99, "tiny normal(0,1) inputs fall below e4m3's subnormals: the product is lost");
        // L-Mul: a few percent on average, more bits better, never a factor off
        assertTrue(e.mean()[1] < e.mean()[0] && e.mean()[0] < 0.1 && e.max()[0] < 0.5, "lmul " + e.mean()[0] + " " + e.mean()[1]);
    }

    @Test void saysWhenNoActivationsAreGivenAndReadsSafetensors(@TempDir Path dir) throws Exception {
        BenchCommandTest.Run r = BenchCommandTest.bench("lmul-precision", "--pairs", "2000");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("real activations: not measured; --model CKPT"), r.out());
        assertEquals(2, r.out().lines().filter(l -> l.startsWith("random ")).count(), r.out());

        String header = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 32).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (float v : new float[] {0.5f, -1.5f, 2.25f, 3f, -0.75f, 1.1f}) b.putFloat(v);
        b.putLong(7);
        Path file = dir.resolve("tiny.safetensors");
        Files.write(file, b.array());
        StringBuilder what = new StringBuilder();
        assertArrayEquals(new float[] {0.5f, -1.5f, 2.25f, 3f, -0.75f, 1.1f}, LmulPrecision.readValues(file, what));
        assertEquals("1 f32 tensors of tiny.safetensors", what.toString());
        r = BenchCommandTest.bench("lmul-precision", "--pairs", "100", "--activations", file.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("file tiny.safetensors"), r.out());
        r = BenchCommandTest.bench("lmul-precision", "--activations", dir.resolve("missing.bin").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("cannot read"), r.err());
    }
}
