package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.ref.RefConvert;
import dev.kiln.kernels.ref.RefQGemm;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The low-bit kernels on the edge cases random parity inputs rarely reach, bit for bit against the reference:
 * every f16 and bf16 pattern to f32, f32 patterns around every rounding boundary to f16 and bf16, L-Mul
 * products that overflow, underflow to subnormals, carry, or meet zeros, subnormals, infinities and NaNs;
 * and the native objects of their plans (several kernels with computed scales) given back.
 */
@Isolated // reads the process-wide live-object counter
class OpenClLowBitTest {
    @Test void everyHalfAndBfloat16PatternConvertsToF32Exactly() {
        short[] all = new short[65536];
        for (int i = 0; i < all.length; i++) all[i] = (short) i;
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            for (DType from : new DType[] {DType.F16, DType.BF16}) {
                int[] got = convert(device, new ConvertDesc(from, DType.F32, all.length), MemorySegment.ofArray(all), new int[all.length]);
                for (int i = 0; i < all.length; i++) {
                    float want = from == DType.F16 ? RefConvert.f16ToF32(all[i]) : RefConvert.bf16ToF32(all[i]);
                    if (got[i] != Float.floatToRawIntBits(want))
                        fail(from.lower() + " 0x" + Integer.toHexString(i) + " -> f32 0x" + Integer.toHexString(got[i]) + ", expected 0x"
                                + Integer.toHexString(Float.floatToRawIntBits(want)));
                }
            }
        }
    }

    /** Every top-16-bit pattern (so every exponent and sign) with low halves on and beside the f16 and bf16 ties. */
    @Test void f32PatternsAroundEveryRoundingBoundaryConvertExactly() {
        int[] lows = {0, 0x8000, 0x7FFF, 0x8001, 0x1000, 0x0FFF, 0x1001, 0x3000, 0x2000, 0x6000, 0x5000, -1};
        SplittableRandom rnd = new SplittableRandom(11);
        int[] bits = new int[65536 * lows.length];
        for (int hi = 0, at = 0; hi < 65536; hi++)
            for (int low : lows) bits[at++] = (hi << 16) | (low < 0 ? rnd.nextInt(1 << 16) : low);
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            for (DType to : new DType[] {DType.F16, DType.BF16}) {
                short[] got = new short[bits.length];
                convert(device, new ConvertDesc(DType.F32, to, bits.length), MemorySegment.ofArray(bits), got);
                for (int i = 0; i < bits.length; i++) {
                    float x = Float.intBitsToFloat(bits[i]);
                    short want = to == DType.F16 ? RefConvert.f32ToF16(x) : RefConvert.f32ToBf16(x);
                    if (got[i] != want)
                        fail("f32 0x" + Integer.toHexString(bits[i]) + " (" + x + ") -> " + to.lower() + " 0x" + Integer.toHexString(got[i] & 0xFFFF)
                                + ", expected 0x" + Integer.toHexString(want & 0xFFFF));
                }
            }
        }
    }

    /** C = A (m x 1) times B^T (n x 1): each element is one L-Mul product (plus 0), compared bit for bit. */
    @Test void lmulProductsMatchTheReferenceBitForBitAtTheEdges() {
        List<Float> values = new ArrayList<>();
        for (float v : new float[] {0f, -0f, Float.MIN_VALUE, -3 * Float.MIN_VALUE, 0x1.FFFFFCp-127f, Float.MIN_NORMAL, 0x1.Fp-126f,
                0x1p-100f, 0x1.F8p-70f, 1f, -1f, 1.5f, 1.9375f, 1.96875f, 0x1.FFFFFEp0f, -2.75f, 3.1f, 1e20f, 0x1.Fp100f,
                0x1.FFFFFEp127f, Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN})
            values.add(v);
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < 24; i++) values.add((float) Math.scalb(rnd.nextDouble(-2, 2), rnd.nextInt(-140, 128)));
        float[] v = new float[values.size()];
        for (int i = 0; i < v.length; i++) v[i] = values.get(i);
        int n = v.length;
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            for (int mb : new int[] {3, 4}) {
                QGemmDesc d = QGemmDesc.lmul(n, n, 1, mb);
                try (DeviceBuffer a = device.allocate(DType.F32, n); DeviceBuffer b = device.allocate(DType.F32, n);
                     DeviceBuffer c = device.allocate(DType.F32, (long) n * n); Plan plan = OpenClTesting.firstSupporting(device, d).plan(d)) {
                    a.copyFrom(v);
                    b.copyFrom(v);
                    plan.execute(device.defaultStream(), Args.of(Arg.A, a, Arg.B, b, Arg.C, c));
                    device.defaultStream().synchronize();
                    float[] got = new float[n * n];
                    c.copyTo(got);
                    for (int i = 0; i < n; i++)
                        for (int j = 0; j < n; j++) {
                            float want = 0f + RefQGemm.lmul(v[i], v[j], mb), g = got[i * n + j];
                            boolean same = Float.isNaN(want) ? Float.isNaN(g) : Float.floatToRawIntBits(want) == Float.floatToRawIntBits(g);
                            if (!same) fail("lmul(" + v[i] + ", " + v[j] + ", " + mb + ") = " + g + ", expected " + want);
                        }
                }
                // The vector path: 16-element chunks of 1.0 with the edge value in lane 5, so a lane the kernel must
                // hand to the scalar function (zero, subnormal or non-finite input, result out of the normal
                // range) sits among ordinary ones; wrongly taken as ordinary it would give a wild sum.
                int k = 16;
                float[] rows = new float[n * k];
                Arrays.fill(rows, 1f);
                for (int i = 0; i < n; i++) rows[i * k + 5] = v[i];
                QGemmDesc chunked = QGemmDesc.lmul(n, n, k, mb);
                try (DeviceBuffer a = device.allocate(DType.F32, (long) n * k); DeviceBuffer b = device.allocate(DType.F32, (long) n * k);
                     DeviceBuffer c = device.allocate(DType.F32, (long) n * n);
                     Plan plan = OpenClTesting.firstSupporting(device, chunked).plan(chunked)) {
                    a.copyFrom(rows);
                    b.copyFrom(rows);
                    plan.execute(device.defaultStream(), Args.of(Arg.A, a, Arg.B, b, Arg.C, c));
                    device.defaultStream().synchronize();
                    float[] got = new float[n * n];
                    c.copyTo(got);
                    float ones = 15 * RefQGemm.lmul(1f, 1f, mb);
                    for (int i = 0; i < n; i++)
                        for (int j = 0; j < n; j++) {
                            float want = (float) ((double) ones + RefQGemm.lmul(v[i], v[j], mb)), g = got[i * n + j];
                            boolean close = Float.isNaN(want) ? Float.isNaN(g)
                                    : Float.isInfinite(want) ? g == want : Math.abs(g - want) <= 1e-6 * Math.max(Math.abs(want), ones);
                            if (!close) fail("lmul chunk with " + v[i] + " * " + v[j] + " (mantissa " + mb + ") = " + g + ", expected " + want);
                        }
                }
            }
        }
    }

    @Test void lowBitPlansGiveBackTheirNativeObjects() {
        long before = ClLive.live();
        OpenClDevice device = OpenClTesting.firstDevice();
        long kernels = ClLive.live(ClLive.Kind.KERNEL);
        QuantizeDesc computed = QuantizeDesc.of(QuantizeDesc.Mode.FAKE, DType.S4, Shape.of(4, 32)).perGroup(32).withSymmetric(false).stochastic(3);
        Plan fake = OpenClTesting.firstSupporting(device, computed).plan(computed);
        assertEquals(kernels + 2, ClLive.live(ClLive.Kind.KERNEL), "computed scales: a statistics kernel and the element pass");
        List<Plan> plans = new ArrayList<>(List.of(fake));
        for (var d : List.of(QGemmDesc.binary(3, 5, 70, DType.F32), QGemmDesc.s4(2, 3, 64, 32), QGemmDesc.lmul(2, 3, 5, 4),
                new ConvertDesc(DType.F32, DType.BF16, 0)))
            plans.add(OpenClTesting.firstSupporting(device, d).plan(d));
        // An empty conversion runs without a launch.
        try (DeviceBuffer src = device.allocate(DType.F32, 0); DeviceBuffer dst = device.allocate(DType.BF16, 0)) {
            plans.getLast().execute(device.defaultStream(), Args.of(Arg.SRC, src, Arg.DST, dst));
            device.defaultStream().synchronize();
        }
        for (Plan p : plans) p.close();
        assertEquals(kernels, ClLive.live(ClLive.Kind.KERNEL), "closing the plans released their kernels: " + ClLive.summary());
        device.close();
        assertEquals(before, ClLive.live(), "live objects after close: " + ClLive.summary());
    }

    /** Runs {@code d} on {@code src}'s bytes and reads DST into {@code out} (an int[] or short[]). */
    private static <T> T convert(OpenClDevice device, ConvertDesc d, MemorySegment src, T out) {
        try (DeviceBuffer s = device.allocate(d.from(), d.count()); DeviceBuffer t = device.allocate(d.to(), d.count());
             Plan plan = OpenClTesting.firstSupporting(device, d).plan(d)) {
            s.copyFrom(src);
            plan.execute(device.defaultStream(), Args.of(Arg.SRC, s, Arg.DST, t));
            device.defaultStream().synchronize();
            t.copyTo(out instanceof int[] ints ? MemorySegment.ofArray(ints) : MemorySegment.ofArray((short[]) out));
        }
        return out;
    }
}
