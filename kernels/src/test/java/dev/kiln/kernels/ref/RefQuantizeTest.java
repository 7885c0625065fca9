package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The quantisation reference against values worked by hand (grids, ties, zero points, packing layouts),
 * statistical checks of stochastic rounding (unbiased, reproducible, seed-dependent), and the descriptor's
 * validation messages.
 */
class RefQuantizeTest {

    /** Runs {@code d} on host buffers; inputs by role as float[], int[] or byte[]; returns every buffer's segment. */
    static Map<Arg, MemorySegment> run(QuantizeDesc d, Object... inputs) {
        Args args = Args.of();
        Map<Arg, MemorySegment> out = new EnumMap<>(Arg.class);
        for (int i = 0; i < inputs.length; i += 2) {
            Arg arg = (Arg) inputs[i];
            HostBuffer b = switch (inputs[i + 1]) {
                case float[] f -> HostBuffer.wrap(f);
                case int[] n -> HostBuffer.wrap(n);
                case byte[] raw -> HostBuffer.wrap(raw, d.spec(arg).dtype());
                default -> throw new IllegalArgumentException();
            };
            args.put(arg, b);
            out.put(arg, b.hostSegment());
        }
        for (ArgSpec s : d.args()) {
            if (!s.access().writes()) continue;
            HostBuffer b = HostBuffer.allocate(null, s.dtype(), s.count());
            b.hostSegment().fill((byte) 0x5A);
            args.put(s.arg(), b);
            out.put(s.arg(), b.hostSegment());
        }
        Kernels.execute(d, args);
        return out;
    }

    private static float f(MemorySegment s, int i) { return s.getAtIndex(ValueLayout.JAVA_FLOAT, i); }

    @Test void symmetricS8PerTensorWithTies() {
        QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, DType.S8, Shape.of(6)).withComputedScales(false);
        float[] x = {0.25f, 0.75f, -0.25f, -1.25f, 100f, -100f};   // x / 0.5 = 0.5, 1.5, -0.5, -2.5: ties to even
        var out = run(d, Arg.SRC, x, Arg.SCALES, new float[] {0.5f});
        byte[] q = out.get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(new byte[] {0, 2, 0, -2, 127, -127}, q, "symmetric s8 clamps to +-127");
        var fake = run(d.withMode(Mode.FAKE), Arg.SRC, x, Arg.SCALES, new float[] {0.5f});
        assertArrayEquals(new float[] {0, 1, 0, -1, 63.5f, -63.5f}, fake.get(Arg.DST).toArray(ValueLayout.JAVA_FLOAT));
    }

    @Test void computedScalesPerChannelAndGroup() {
        // shape 2 x 3 x 4, channels along axis 1: scale index (i / 4) % 3
        float[] x = new float[24];
        for (int i = 0; i < 24; i++) x[i] = (i % 7 - 3) * (1 + (i / 4) % 3);
        QuantizeDesc d = QuantizeDesc.of(Mode.FAKE, DType.S8, Shape.of(2, 3, 4)).perChannel(1);
        var out = run(d, Arg.SRC, x);
        for (int c = 0; c < 3; c++) {
            float amax = 0;
            for (int i = 0; i < 24; i++) if ((i / 4) % 3 == c) amax = Math.max(amax, Math.abs(x[i]));
            assertEquals(amax / 127f, f(out.get(Arg.SCALES), c), "channel " + c);
        }
        for (int i = 0; i < 24; i++) {
            float s = f(out.get(Arg.SCALES), (i / 4) % 3);
            assertEquals((float) Math.rint(x[i] / s) * s, f(out.get(Arg.DST), i), "element " + i);
        }
        QuantizeDesc g = QuantizeDesc.of(Mode.QUANTIZE, DType.S4, Shape.of(2, 64)).perGroup(32);
        float[] y = new float[128];
        for (int i = 0; i < 128; i++) y[i] = (float) Math.sin(i) * (1 + i / 32);
        var gout = run(g, Arg.SRC, y);
        for (int grp = 0; grp < 4; grp++) {
            float amax = 0;
            for (int i = grp * 32; i < grp * 32 + 32; i++) amax = Math.max(amax, Math.abs(y[i]));
            assertEquals(amax / 7f, f(gout.get(Arg.SCALES), grp), "group " + grp);
        }
    }

    @Test void asymmetricU8HasAZeroPointThatDequantisesToZero() {
        QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, DType.U8, Shape.of(4));
        assertFalse(d.symmetric());
        var out = run(d, Arg.SRC, new float[] {-1f, 3f, 0f, 1f});
        float s = f(out.get(Arg.SCALES), 0);
        int z = out.get(Arg.ZERO_POINTS).getAtIndex(ValueLayout.JAVA_INT, 0);
        assertEquals(4f / 255f, s);
        assertEquals(64, z);                                     // rint(1 / (4/255)) = rint(63.75)
        byte[] q = out.get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        assertEquals(0, q[0] & 0xFF);
        assertEquals(255, q[1] & 0xFF);
        assertEquals(z, q[2] & 0xFF);
        assertEquals(0f, RefQuantize.dequantize(q[2] & 0xFF, s, z));
        // an all-positive tensor still has 0 in its range; an all-zero one gets scale 1
        var pos = run(d, Arg.SRC, new float[] {2f, 4f, 3f, 2.5f});
        assertEquals(0, pos.get(Arg.ZERO_POINTS).getAtIndex(ValueLayout.JAVA_INT, 0));
        var zero = run(d, Arg.SRC, new float[4]);
        assertEquals(1f, f(zero.get(Arg.SCALES), 0));
    }

    @Test void s4PacksTwoPerByteLowNibbleFirst() {
        QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, DType.S4, Shape.of(3)).withSymmetric(false).withComputedScales(false);
        var out = run(d, Arg.SRC, new float[] {1f, -3f, 9f}, Arg.SCALES, new float[] {1f}, Arg.ZERO_POINTS, new int[] {-1});
        byte[] q = out.get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        assertEquals(2, q.length);
        assertEquals((byte) 0xC0, q[0]);                         // 1 - 1 = 0 low, -3 - 1 = -4 = 0xC high
        assertEquals(7, q[1] & 0x0F);                            // 9 - 1 clamps to 7
        assertEquals(0x50, q[1] & 0xF0, "the unused high nibble is left alone");
        var back = run(d.withMode(Mode.DEQUANTIZE), Arg.SRC, q, Arg.SCALES, new float[] {1f}, Arg.ZERO_POINTS, new int[] {-1});
        assertArrayEquals(new float[] {1, -3, 8}, back.get(Arg.DST).toArray(ValueLayout.JAVA_FLOAT));
    }

    @Test void binaryRowsArePaddedToWholeBytesAndScaledByTheMeanMagnitude() {
        QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, DType.B1, Shape.of(2, 5));
        float[] x = {1, -2, 0, -0.5f, 3, -1, -1, 2, 2, -4};
        var out = run(d, Arg.SRC, x);
        byte[] q = out.get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(new byte[] {0b10101, 0b01100}, q, "rows of 5 bits in whole bytes, padding 0");
        assertEquals(1.65f, f(out.get(Arg.SCALES), 0));
        var fake = run(d.withMode(Mode.FAKE), Arg.SRC, x);
        assertEquals(-1.65f, f(fake.get(Arg.DST), 1));
        assertEquals(1.65f, f(fake.get(Arg.DST), 2));
    }

    @Test void stochasticRoundingIsUnbiasedReproducibleAndSeeded() {
        int n = 200_000;
        float[] x = new float[n];
        java.util.Arrays.fill(x, 0.3f);
        QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, DType.S8, Shape.of(n)).withComputedScales(false).stochastic(42);
        byte[] a = run(d, Arg.SRC, x, Arg.SCALES, new float[] {1f}).get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        byte[] b = run(d, Arg.SRC, x, Arg.SCALES, new float[] {1f}).get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        byte[] c = run(d.stochastic(43), Arg.SRC, x, Arg.SCALES, new float[] {1f}).get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(a, b, "same seed, same bits");
        assertFalse(java.util.Arrays.equals(a, c), "another seed, other bits");
        long ones = 0;
        for (byte v : a) { assertTrue(v == 0 || v == 1); ones += v; }
        assertEquals(0.3, (double) ones / n, 0.005, "E[q] = x / s");
        // uniform() is uniform: mean 1/2, no value outside [0, 1)
        double sum = 0;
        for (long i = 0; i < n; i++) { float u = RefQuantize.uniform(9, i + (3L << 32)); assertTrue(u >= 0 && u < 1); sum += u; }
        assertEquals(0.5, sum / n, 0.005);
        // binary: P(+1) = (x + 1) / 2
        QuantizeDesc bd = QuantizeDesc.of(Mode.QUANTIZE, DType.B1, Shape.of(n)).stochastic(5);
        java.util.Arrays.fill(x, -0.5f);
        byte[] bits = run(bd, Arg.SRC, x).get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
        long set = 0;
        for (byte v : bits) set += Integer.bitCount(v & 0xFF);
        assertEquals(0.25, (double) set / n, 0.005);
    }

    @Test void fakeIsDequantiseOfQuantiseBitForBit() {
        Random r = new Random(3);
        for (DType q : new DType[] {DType.S8, DType.U8, DType.S4, DType.B1}) {
            QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, q, Shape.of(5, 64)).perGroup(32).stochastic(11);
            float[] x = RefCase.rand(r, 320);
            var qo = run(d, Arg.SRC, x);
            byte[] bytes = qo.get(Arg.DST).toArray(ValueLayout.JAVA_BYTE);
            float[] scales = qo.get(Arg.SCALES).toArray(ValueLayout.JAVA_FLOAT);
            Object[] scaleArgs = d.symmetric() ? new Object[] {Arg.SCALES, scales}
                    : new Object[] {Arg.SCALES, scales, Arg.ZERO_POINTS, qo.get(Arg.ZERO_POINTS).toArray(ValueLayout.JAVA_INT)};
            Object[] deqArgs = new Object[2 + scaleArgs.length];
            deqArgs[0] = Arg.SRC;
            deqArgs[1] = bytes;
            System.arraycopy(scaleArgs, 0, deqArgs, 2, scaleArgs.length);
            float[] deq = run(d.withMode(Mode.DEQUANTIZE).withComputedScales(false), deqArgs).get(Arg.DST).toArray(ValueLayout.JAVA_FLOAT);
            float[] fake = run(d.withMode(Mode.FAKE), Arg.SRC, x).get(Arg.DST).toArray(ValueLayout.JAVA_FLOAT);
            assertArrayEquals(deq, fake, q.lower());
            if (q != DType.B1) // stochastic rounding moves less than one step (inside the range, which the computed scale covers)
                for (int i = 0; i < 320; i++) assertTrue(Math.abs(fake[i] - x[i]) < scales[i / 32] * 1.0001, q + " element " + i);
        }
    }

    private static void bad(Executable make, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
    }

    @Test void validationNamesTheOpAndTheNumbers() {
        Shape s = Shape.of(4, 6);
        bad(() -> QuantizeDesc.of(Mode.QUANTIZE, DType.S8, s).perGroup(4), "quantize.s8", "last dimension 6", "groupSize=4");
        bad(() -> QuantizeDesc.of(Mode.FAKE, DType.S4, s).perChannel(2), "fake-quantize.s4", "channel axis 2", "rank 2");
        bad(() -> QuantizeDesc.of(Mode.QUANTIZE, DType.U8, s).withSymmetric(true), "quantize.u8", "asymmetric");
        bad(() -> QuantizeDesc.of(Mode.QUANTIZE, DType.B1, s).withSymmetric(false), "quantize.b1", "symmetric only");
        bad(() -> QuantizeDesc.of(Mode.DEQUANTIZE, DType.S8, s).withComputedScales(true), "dequantize.s8", "given scales");
        bad(() -> QuantizeDesc.of(Mode.QUANTIZE, DType.F16, s), "quantize.f16", "qtype must be s8, u8, s4 or b1, got f16");
        bad(() -> QuantizeDesc.of(Mode.QUANTIZE, DType.S8, Shape.of(3, 0)), "quantize.s8", "must be > 0, got 0");
        QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, DType.S8, s).perChannel(0).withComputedScales(false);
        bad(() -> Kernels.execute(d, Args.of(Arg.SRC, HostBuffer.wrap(new float[24]), Arg.DST, HostBuffer.wrap(new byte[24], DType.S8),
                Arg.SCALES, HostBuffer.wrap(new float[3]))), "quantize.s8", "SCALES has 3 f32 elements, needs 4", "channel scales");
    }
}
