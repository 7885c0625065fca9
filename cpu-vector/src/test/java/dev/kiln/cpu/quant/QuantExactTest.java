package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * What random inputs do not reach: products at the extremes with k at the s32 limit (where the s16 pair
 * sums hit 32768 and the accumulators wrap before the result is exact), and bit-identical outputs for one
 * and two threads on every type.
 */
class QuantExactTest {
    private static List<HostBuffer> buffers(QGemmDesc d, byte fillA, byte fillB, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<HostBuffer> list = new ArrayList<>();
        for (ArgSpec spec : d.args()) {
            HostBuffer h = HostBuffer.allocate(null, spec.dtype(), spec.count());
            MemorySegment s = h.hostSegment();
            if (spec.dtype() == DType.F32) {
                for (long i = 0; i < spec.count(); i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
            } else if (spec.arg() == Arg.A && fillA != 0) {
                s.fill(fillA);
            } else if (spec.arg() == Arg.B && fillB != 0) {
                s.fill(fillB);
            } else {
                for (long i = 0; i < s.byteSize(); i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
            }
            list.add(h);
        }
        return list;
    }

    private static Args args(QGemmDesc d, List<HostBuffer> list) {
        Args a = Args.of();
        for (int i = 0; i < list.size(); i++) a.put(d.args().get(i).arg(), list.get(i));
        return a;
    }

    private static byte[] runVector(QGemmDesc d, List<HostBuffer> inputs) {
        List<HostBuffer> copy = new ArrayList<>();
        for (HostBuffer h : inputs) {
            HostBuffer c = HostBuffer.allocate(null, h.dtype(), h.count());
            c.hostSegment().copyFrom(h.hostSegment());
            copy.add(c);
        }
        VectorQGemm.run(VectorSupport.width(), d, args(d, copy));
        byte[] out = copy.getLast().hostSegment().toArray(ValueLayout.JAVA_BYTE);
        copy.forEach(HostBuffer::close);
        return out;
    }

    private static void extreme(QGemmDesc d, byte a, byte b) {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> VectorSupport.status().reason());
        List<HostBuffer> in = buffers(d, a, b, 1);
        byte[] got = runVector(d, in);
        RefKernels.run(d, args(d, in));
        MemorySegment expected = in.getLast().hostSegment();
        assertArrayEquals(expected.toArray(ValueLayout.JAVA_BYTE), got, d.opName() + " " + d.shape());
        in.forEach(HostBuffer::close);
    }

    @Test void s8AtTheLimitWithExtremeValues() {
        QGemmDesc d = QGemmDesc.s8(3, 5, 131071, DType.S32);
        extreme(d, (byte) -128, (byte) -128); // 131071 * 16384 = 2147467264, just below 2^31
        extreme(d, (byte) -128, (byte) 127);
    }

    @Test void u8s8AtTheLimitWithExtremeValues() {
        QGemmDesc d = QGemmDesc.u8s8(5, 3, 65792, DType.S32);
        extreme(d, (byte) 255, (byte) -128); // 65792 * -32640 = -2147450880
        extreme(d, (byte) 255, (byte) 127);
    }

    /**
     * The GEMV paths (m = 1, {@link Int8Gemv}: two B rows per pass reading B in place, an odd last row paired with itself,
     * a scalar last part of k; u8 with the row sums in the same pass, flushed from s16 in blocks), k at the s32 limit.
     */
    @Test void gemvIsExactWithExtremeValues() {
        extreme(QGemmDesc.s8(1, 19, 131071, DType.S32), (byte) -128, (byte) -128); // odd row count
        extreme(QGemmDesc.u8s8(1, 17, 65792, DType.S32), (byte) 255, (byte) -128);
        extreme(QGemmDesc.s8(1, 7, 131071, DType.S32), (byte) -128, (byte) -128);
        extreme(QGemmDesc.s8(1, 6, 131071, DType.S32), (byte) -128, (byte) 127);
        extreme(QGemmDesc.u8s8(1, 5, 65792, DType.S32), (byte) 255, (byte) -128);
        extreme(QGemmDesc.u8s8(1, 3, 65792 - 1, DType.S32), (byte) 255, (byte) 127);
    }

    /** The f32 path (m >= Int8FloatGemm.MIN_M): several k panels, a partial last one, and k at the s32 limit. */
    @Test void floatPathIsExactWithExtremeValues() {
        QGemmDesc panels = QGemmDesc.s8(Int8FloatGemm.MIN_M + 7, 70, 1000, DType.S32);
        extreme(panels, (byte) -128, (byte) -128); // each panel of 256 sums to 2^22 in f32
        extreme(panels, (byte) -128, (byte) 127);
        extreme(QGemmDesc.u8s8(Int8FloatGemm.MIN_M + 1, 67, 1000, DType.S32), (byte) 255, (byte) -128); // panels of 256 x -32640
        extreme(QGemmDesc.s8(Int8FloatGemm.MIN_M, 5, 131071, DType.S32), (byte) -128, (byte) -128);
        extreme(QGemmDesc.u8s8(Int8FloatGemm.MIN_M, 3, 65792, DType.S32), (byte) 255, (byte) -128);
    }

    @Test void oneAndTwoThreadsGiveIdenticalBits() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> VectorSupport.status().reason());
        int before = CpuThreads.threads();
        QGemmDesc[] descs = {QGemmDesc.s8(70, 131, 300, DType.F32), QGemmDesc.u8s8(9, 140, 129, DType.S32),
                QGemmDesc.s4(1, 300, 256, 32), QGemmDesc.s4(40, 70, 128, 64), QGemmDesc.binary(70, 100, 333, DType.S32),
                QGemmDesc.lmul(13, 70, 100, 3)};
        try {
            for (QGemmDesc d : descs) {
                List<HostBuffer> in = buffers(d, (byte) 0, (byte) 0, 7);
                CpuThreads.setThreads(1);
                byte[] one = runVector(d, in);
                CpuThreads.setThreads(2);
                byte[] two = runVector(d, in);
                assertArrayEquals(one, two, d.opName() + " " + d.shape());
                in.forEach(HostBuffer::close);
            }
        } finally {
            CpuThreads.setThreads(before);
        }
    }
}
