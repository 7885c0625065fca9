package dev.kiln.kernels.ref;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.ConvertDesc;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * f16 and bf16 conversions: every f16 value against the JDK's {@link Float#float16ToFloat}, f32 to f16 against
 * {@link Float#floatToFloat16} on every halfway point between f16 values (and one f32 ulp either side) and on
 * a million spread bit patterns, bf16 against rounding worked out on the two candidates; NaNs by class.
 */
class RefConvertTest {

    @Test void everyF16ValueMatchesTheJdk() {
        for (int h = 0; h < 65536; h++) {
            float ours = RefConvert.f16ToF32((short) h), jdk = Float.float16ToFloat((short) h);
            if (Float.isNaN(jdk)) {
                assertTrue(Float.isNaN(ours), "h=" + Integer.toHexString(h));
                assertEquals(h >>> 15, Float.floatToRawIntBits(ours) >>> 31, "NaN sign");
                assertEquals((short) h, (short) (RefConvert.f32ToF16(ours) & ~0x200 | (h & 0x200)), "payload kept");
            } else {
                assertEquals(Float.floatToRawIntBits(jdk), Float.floatToRawIntBits(ours), "h=" + Integer.toHexString(h));
                assertEquals((short) h, RefConvert.f32ToF16(ours), "round trip of h=" + Integer.toHexString(h));
            }
        }
    }

    @Test void f32ToF16RoundsToNearestEvenLikeTheJdk() {
        int checked = 0;
        for (int h = 0; h < 0x7C00; h++) {                   // every finite positive f16 and the midpoint to the next
            double lo = Float.float16ToFloat((short) h), hi = h + 1 == 0x7C00 ? 65536.0 : Float.float16ToFloat((short) (h + 1));
            float mid = (float) ((lo + hi) / 2);              // exact in f32
            for (float x : new float[] {mid, Math.nextDown(mid), Math.nextUp(mid), -mid}) {
                assertEquals(Float.floatToFloat16(x), RefConvert.f32ToF16(x), "x=" + x);
                checked++;
            }
        }
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 1_000_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(x)) continue;
            assertEquals(Float.floatToFloat16(x), RefConvert.f32ToF16(x), "x=" + x);
            checked++;
        }
        assertTrue(checked > 1_000_000);
        assertEquals((short) 0x7BFF, RefConvert.f32ToF16(65519.996f));
        assertEquals((short) 0x7C00, RefConvert.f32ToF16(65520f));
        assertEquals((short) 0x0001, RefConvert.f32ToF16(0x1p-24f));
        assertEquals((short) 0x0000, RefConvert.f32ToF16(0x1p-25f), "half the smallest subnormal ties to even zero");
        assertEquals((short) 0x8001, RefConvert.f32ToF16(-0x1.8p-25f));
        assertEquals((short) 0xFC00, RefConvert.f32ToF16(Float.NEGATIVE_INFINITY));
        short nan = RefConvert.f32ToF16(Float.intBitsToFloat(0xFF800001));   // signalling NaN, payload in the low bits only
        assertEquals(0xFE00, nan & 0xFFFF, "made quiet, sign kept");
    }

    @Test void bf16RoundsToNearestEven() {
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < 1_000_000; i++) {
            int bits = i < 4 ? new int[] {0x3F808000, 0x3F818000, 0x7F7FFFFF, 0x00008000}[i] : r.nextInt();
            float x = Float.intBitsToFloat(bits);
            short b = RefConvert.f32ToBf16(x);
            if (Float.isNaN(x)) {
                assertTrue(Float.isNaN(RefConvert.bf16ToF32(b)));
                assertEquals(bits >>> 31, (b & 0xFFFF) >>> 15);
                continue;
            }
            // the two candidates: truncated, and one bf16 step further from zero
            int down = bits & 0xFFFF0000, up = down + 0x10000;
            double dd = Math.abs((double) Float.intBitsToFloat(down) - x);
            double du = Float.isInfinite(Float.intBitsToFloat(up)) ? Math.abs(0x1p128 * Math.signum(x) - x) : Math.abs((double) Float.intBitsToFloat(up) - x);
            int want = dd < du || (dd == du && (down & 0x10000) == 0) ? down : up;
            assertEquals(want >>> 16, b & 0xFFFF, "x bits " + Integer.toHexString(bits));
            assertEquals(Float.floatToRawIntBits(RefConvert.bf16ToF32(b)), (b & 0xFFFF) << 16);
        }
        assertEquals((short) 0x3F80, RefConvert.f32ToBf16(Float.intBitsToFloat(0x3F808000)), "tie to even (down)");
        assertEquals((short) 0x3F82, RefConvert.f32ToBf16(Float.intBitsToFloat(0x3F818000)), "tie to even (up)");
        assertEquals((short) 0x7F80, RefConvert.f32ToBf16(Float.intBitsToFloat(0x7F7FFFFF)), "overflow to infinity");
    }

    @Test void descriptorTakesOnlyTheFourConversions() {
        assertEquals("convert.f32-f16", new ConvertDesc(DType.F32, DType.F16, 3).opName());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ConvertDesc(DType.F16, DType.BF16, 3));
        assertTrue(e.getMessage().contains("convert.f16-bf16") && e.getMessage().contains("not f16 to bf16"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ConvertDesc(DType.F32, DType.F16, -1));
        assertTrue(e.getMessage().contains("count must be >= 0, got -1"), e.getMessage());
    }
}
