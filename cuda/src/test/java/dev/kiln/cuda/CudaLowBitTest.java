package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.ref.RefQuantize;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host side of the low-bit kernels (CudaQGemm, CudaQuantize, CudaConvert) without a GPU: which kernel takes
 * what (and why not), the s32 overflow bound on k, the argument lists against the .cu parameter lists, launch
 * shapes, and the scale indexing against the reference's. The device runs are CudaParityTest and
 * CudaQGemmParityTest (skipped without a GPU).
 */
class CudaLowBitTest {
    private static final Map<OpKind, List<KernelImpl>> AMPERE = CudaDevice.kernels(null, 8, false, null);

    private static List<QGemmDesc> everyQGemmType() {
        return List.of(QGemmDesc.s8(3, 5, 7, DType.S32), QGemmDesc.u8s8(3, 5, 7, DType.S8), QGemmDesc.binary(3, 5, 9, DType.F32),
                QGemmDesc.s4(3, 5, 8, 4), QGemmDesc.lmul(3, 5, 7, 4));
    }

    @Test
    void theTensorCoreKernelComesFirstAndTakesOnlyInt8() {
        List<KernelImpl> qgemm = AMPERE.get(OpKind.QGEMM);
        assertEquals(List.of("cuda-qgemm-mma", "cuda-qgemm"), qgemm.stream().map(KernelImpl::name).toList());
        for (QGemmDesc d : everyQGemmType()) {
            boolean int8 = d.type() == QGemmDesc.QuantType.S8S8 || d.type() == QGemmDesc.QuantType.U8S8;
            Support mma = qgemm.get(0).supports(d);
            assertEquals(int8, mma.ok(), d.opName() + ": " + mma.reason());
            if (!int8) assertEquals("cuda-qgemm-mma takes s8 x s8 and u8 x s8 only (int8 tensor cores), got " + d.opName()
                    + "; cuda-qgemm takes it", mma.reason());
            assertTrue(qgemm.get(1).supports(d).ok(), d.opName());
        }
        assertTrue(AMPERE.get(OpKind.QUANTIZE).getFirst().supports(QuantizeDesc.of(Mode.FAKE, DType.S4, Shape.of(3, 8))).ok());
        assertTrue(AMPERE.get(OpKind.CONVERT).getFirst().supports(new ConvertDesc(DType.F32, DType.BF16, 9)).ok());
    }

    @Test
    void beforeAmpereTheTensorCoreKernelDeclinesWithTheReason() {
        KernelImpl mma = CudaDevice.kernels(null, 7, false, null).get(OpKind.QGEMM).getFirst();
        Support s = mma.supports(QGemmDesc.s8(16, 16, 32, DType.S32));
        assertFalse(s.ok());
        assertEquals("int8 mma.sync m16n8k32 needs compute capability 8.0 or newer, the device has 7.x", s.reason());
    }

    @Test
    void theTensorCoreKernelCanBeSwitchedOffSoDp4aTakesInt8() {
        assertTrue(CudaQGemm.mmaSwitchedOff(null, "0"));
        assertTrue(CudaQGemm.mmaSwitchedOff("false", "1"), "the property wins");
        assertFalse(CudaQGemm.mmaSwitchedOff(null, null));
        assertFalse(CudaQGemm.mmaSwitchedOff("1", "0"));
        Support off = new CudaQGemm(null, 9, true).supports(QGemmDesc.s8(2, 2, 2, DType.S32));
        assertFalse(off.ok());
        assertEquals("switched off by KILN_CUDA_QGEMM_MMA=0 or -Dkiln.cuda.qgemm.mma=false", off.reason());
        assertTrue(new CudaQGemm(null, 9, false).supports(QGemmDesc.s8(2, 2, 2, DType.S32)).ok());
    }

    @Test
    void eachKernelDeclinesOtherFamiliesAndTooTallGrids() {
        OpDesc gemm = GemmDesc.of(2, 2, 2);
        assertEquals("not a qgemm descriptor: gemm", CudaQGemm.check(gemm, false).reason());
        assertFalse(CudaQuantize.check(gemm).ok());
        assertFalse(CudaConvert.check(gemm).ok());
        QGemmDesc tall = QGemmDesc.s8(64 * 65535 + 1, 1, 1, DType.S32);
        Support s = CudaQGemm.check(tall, false);
        assertFalse(s.ok());
        assertEquals("cuda-qgemm handles m <= 4194240 (grid y limit), got m=4194241", s.reason());
        assertTrue(CudaQGemm.check(tall, true).ok(), "128-row tiles reach twice as far");
        assertFalse(CudaQGemm.check(QGemmDesc.s8(128 * 65535 + 1, 1, 1, DType.S32), true).ok());
    }

    /** k * (largest product) must stay within s32 for every partial sum; the descriptor stops k within that bound. */
    @Test
    void kIsBoundedSoTheS32SumsNeverWrap() {
        int s8 = CudaQGemm.maxExactK(false), u8 = CudaQGemm.maxExactK(true);
        assertEquals(131071, s8);
        assertEquals(65793, u8);
        assertTrue((long) s8 * 128 * 128 <= Integer.MAX_VALUE && (long) (s8 + 1) * 128 * 128 > Integer.MAX_VALUE);
        assertTrue((long) u8 * 255 * -128 >= Integer.MIN_VALUE && (long) (u8 + 1) * 255 * -128 < Integer.MIN_VALUE);
        // the descriptor admits no k past the bound: the largest it admits is exact, the next is rejected
        QGemmDesc.s8(1, 1, 131071, DType.S32);
        QGemmDesc.u8s8(1, 1, 65792, DType.S32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QGemmDesc.s8(1, 1, s8 + 1, DType.S32));
        assertTrue(e.getMessage().contains("k=131072"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> QGemmDesc.u8s8(1, 1, u8, DType.S32));
    }

    @Test
    void qgemmArgumentsFollowTheKernelParameterLists() {
        // operands stand in as their Arg names; null where the kernel reads no scales
        assertArrayEquals(new Object[] {Arg.A, Arg.B, null, null, Arg.C, 3, 5, 7, 7, CudaQGemm.OUT_S32},
                CudaQGemm.arguments(QGemmDesc.s8(3, 5, 7, DType.S32), a -> a));
        assertArrayEquals(new Object[] {Arg.A, Arg.B, Arg.SRC_SCALES, Arg.SCALES, Arg.C, 3, 5, 7, 7, CudaQGemm.OUT_S8},
                CudaQGemm.arguments(QGemmDesc.u8s8(3, 5, 7, DType.S8), a -> a));
        assertArrayEquals(new Object[] {Arg.A, Arg.B, Arg.SRC_SCALES, Arg.SCALES, Arg.C, 3, 5, 9, 2, CudaQGemm.OUT_F32},
                CudaQGemm.arguments(QGemmDesc.binary(3, 5, 9, DType.F32), a -> a), "b1 rows are ceil(9/8) = 2 bytes");
        assertArrayEquals(new Object[] {Arg.A, Arg.B, Arg.SCALES, Arg.C, 3, 5, 8, 4},
                CudaQGemm.arguments(QGemmDesc.s4(3, 5, 8, 4), a -> a));
        assertArrayEquals(new Object[] {Arg.A, Arg.B, Arg.C, 3, 5, 7, 4}, CudaQGemm.arguments(QGemmDesc.lmul(3, 5, 7, 4), a -> a));
        for (QGemmDesc d : everyQGemmType())
            for (Object o : CudaQGemm.arguments(d, a -> a))
                assertTrue(o == null || o instanceof Arg || o instanceof Integer, "int parameters only: " + o);
    }

    @Test
    void qgemmEntriesAndGridsCoverTheOutput() {
        List<String> entries = DeviceCode.Family.QGEMM.entries();
        for (QGemmDesc d : everyQGemmType()) {
            assertTrue(entries.contains(CudaQGemm.entry(d, false)), CudaQGemm.entry(d, false));
            assertTrue(entries.contains(CudaQGemm.entry(d, true)), CudaQGemm.entry(d, true));
        }
        assertEquals(DeviceCode.QGEMM_U8S8_MMA, CudaQGemm.entry(QGemmDesc.u8s8(1, 1, 1, DType.S32), true));
        assertEquals(DeviceCode.QGEMM_U8S8_DP4A, CudaQGemm.entry(QGemmDesc.u8s8(1, 1, 1, DType.S32), false));
        assertArrayEquals(new int[] {2, 1}, CudaQGemm.grid(QGemmDesc.s8(64, 65, 3, DType.S32), false));
        assertArrayEquals(new int[] {1, 2}, CudaQGemm.grid(QGemmDesc.s8(129, 128, 3, DType.S32), true));
    }

    private static List<QuantizeDesc> quantizeCases() {
        Shape[] shapes = {Shape.of(1), Shape.of(7), Shape.of(3, 33), Shape.of(2, 5, 7), Shape.of(4, 3, 16), Shape.of(2, 3, 9, 31)};
        List<QuantizeDesc> list = new java.util.ArrayList<>();
        for (Shape s : shapes)
            for (DType q : List.of(DType.S8, DType.U8, DType.S4, DType.B1))
                for (Mode mode : Mode.values()) {
                    QuantizeDesc d = QuantizeDesc.of(mode, q, s);
                    list.add(d);
                    for (int axis = 0; axis < s.rank(); axis++) list.add(d.perChannel(axis));
                    int last = s.dim(s.rank() - 1);
                    for (int g = 1; g <= last; g++) if (last % g == 0) list.add(d.perGroup(g));
                }
        return list;
    }

    @Test
    void scaleIndexMatchesTheReferenceForEveryElement() {
        for (QuantizeDesc d : quantizeCases()) {
            CudaQuantize.ScaleIndex index = CudaQuantize.ScaleIndex.of(d);
            for (long i = 0; i < d.count(); i++)
                assertEquals(RefQuantize.scaleIndex(d, i), index.of(i), d.opName() + " " + d.shape() + " element " + i);
        }
    }

    /** quantize_scales reduces scale st over at(st, e), e < per: every element exactly once, under its own scale. */
    @Test
    void scaleSetsVisitEveryElementOnceUnderItsScale() {
        for (QuantizeDesc d : quantizeCases()) {
            CudaQuantize.ScaleSets sets = CudaQuantize.ScaleSets.of(d);
            assertEquals(d.scaleCount(), sets.sets(), d.shape());
            assertEquals(d.count(), sets.sets() * sets.per(), d.shape());
            BitSet seen = new BitSet();
            for (int st = 0; st < sets.sets(); st++)
                for (long e = 0; e < sets.per(); e++) {
                    long at = sets.at(st, e);
                    assertTrue(at >= 0 && at < d.count() && !seen.get((int) at), d.shape() + ": " + at);
                    seen.set((int) at);
                    assertEquals(st, RefQuantize.scaleIndex(d, at), d.shape() + " element " + at);
                }
            assertEquals(d.count(), seen.cardinality());
        }
    }

    @Test
    void quantizeArgumentsFollowTheKernelParameterLists() {
        QuantizeDesc d = QuantizeDesc.of(Mode.QUANTIZE, DType.U8, Shape.of(4, 6)).perChannel(0).stochastic(99);
        assertArrayEquals(new Object[] {Arg.SRC, Arg.DST, Arg.SCALES, Arg.ZERO_POINTS, 24L, 0, 1, 6L, 4, 0, 255, 1, 99L, 6, 1},
                CudaQuantize.elementArguments(d, a -> a));
        assertArrayEquals(new Object[] {Arg.SRC, Arg.SCALES, Arg.ZERO_POINTS, 4, 6L, 6L, 24L, 6L, 1, 0, 0, 255},
                CudaQuantize.scaleArguments(d, a -> a));
        QuantizeDesc b1 = QuantizeDesc.of(Mode.DEQUANTIZE, DType.B1, Shape.of(3, 9));
        Object[] args = CudaQuantize.elementArguments(b1, a -> a);
        assertNull(args[3], "symmetric: no zero points");
        assertEquals(List.of(27L, 1, 3, 1L, 1, -1, 1, 0, 0L, 9, 2), Arrays.asList(args).subList(4, args.length));
        // long parameters are Long, int parameters Integer (CudaModules.Kernel.launch passes them by type)
        for (QuantizeDesc q : quantizeCases()) {
            Object[] e = CudaQuantize.elementArguments(q, a -> a);
            for (int i : new int[] {4, 7, 12}) assertInstanceOf(Long.class, e[i], "element kernel parameter " + i);
            for (int i : new int[] {5, 6, 8, 9, 10, 11, 13, 14}) assertInstanceOf(Integer.class, e[i], "element kernel parameter " + i);
            if (q.computeScales()) {
                Object[] s = CudaQuantize.scaleArguments(q, a -> a);
                for (int i : new int[] {4, 5, 6, 7}) assertInstanceOf(Long.class, s[i], "scale kernel parameter " + i);
                for (int i : new int[] {3, 8, 9, 10, 11}) assertInstanceOf(Integer.class, s[i], "scale kernel parameter " + i);
            }
        }
    }

    /** quantize.cu's MODE_* and Q_* codes. */
    @Test
    void modeAndTypeCodesMatchTheDeviceCode() {
        assertEquals(List.of("QUANTIZE", "DEQUANTIZE", "FAKE"), Arrays.stream(Mode.values()).map(Enum::name).toList());
        assertEquals(List.of(0, 1, 2, 3), List.of(DType.S8, DType.U8, DType.S4, DType.B1).stream().map(CudaQuantize::qtypeCode).toList());
        assertThrows(IllegalArgumentException.class, () -> CudaQuantize.qtypeCode(DType.F32));
    }

    @Test
    void quantisationToPackedTypesRunsAThreadPerByte() {
        QuantizeDesc s4 = QuantizeDesc.of(Mode.QUANTIZE, DType.S4, Shape.of(7));
        assertEquals(DeviceCode.QUANTIZE_S4_PAIRS, CudaQuantize.entry(s4));
        assertEquals(4, CudaQuantize.work(s4), "7 nibbles in 4 bytes");
        QuantizeDesc b1 = QuantizeDesc.of(Mode.QUANTIZE, DType.B1, Shape.of(3, 9));
        assertEquals(DeviceCode.QUANTIZE_B1_BYTES, CudaQuantize.entry(b1));
        assertEquals(6, CudaQuantize.work(b1), "3 rows of 2 bytes");
        QuantizeDesc fake = b1.withMode(Mode.FAKE);
        assertEquals(DeviceCode.QUANTIZE_ELEMS, CudaQuantize.entry(fake));
        assertEquals(27, CudaQuantize.work(fake));
        for (QuantizeDesc d : quantizeCases()) assertTrue(DeviceCode.Family.QUANTIZE.entries().contains(CudaQuantize.entry(d)));
    }

    @Test
    void convertEntriesAreInTheModule() {
        for (DType half : List.of(DType.F16, DType.BF16)) {
            assertTrue(DeviceCode.Family.CONVERT.entries().contains(CudaConvert.entry(new ConvertDesc(DType.F32, half, 3))));
            assertTrue(DeviceCode.Family.CONVERT.entries().contains(CudaConvert.entry(new ConvertDesc(half, DType.F32, 3))));
        }
        assertEquals("convert_bf16_f32", CudaConvert.entry(new ConvertDesc(DType.BF16, DType.F32, 0)));
    }
}
