package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host-side decisions that need no GPU: what is supported (and why not), launch shapes, vector flags. */
class CudaPlanningTest {
    @Test
    void gemmSupportsF32AnyShapeAndDeclinesTheRestWithTheNumbers() {
        assertTrue(CudaGemm.check(GemmDesc.of(1, 1, 1)).ok());
        assertTrue(CudaGemm.check(GemmDesc.of(DType.F32, Transpose.T, Transpose.T, 257, 33, 0, 0.5, 2)
                .withBatch(3, 257 * 33, 33 * 257, 257 * 33).withEpilogue(true, Activation.GELU)).ok());
        Support f64 = CudaGemm.check(GemmDesc.of(DType.F64, Transpose.N, Transpose.N, 4, 4, 4, 1, 0));
        assertFalse(f64.ok());
        assertEquals("cuda-sgemm is f32 only, got f64", f64.reason());
        Support tall = CudaGemm.check(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 128 * 65535 + 1, 1, 1, 1, 0));
        assertFalse(tall.ok());
        assertTrue(tall.reason().contains("m=" + (128 * 65535 + 1)), tall.reason());
        assertFalse(CudaGemm.check(new UnaryDesc(UnaryOp.EXP, 3)).ok());
    }

    @Test
    void gemmUsesFloat4OnlyWhereEveryRowOfEveryBatchIsAligned() {
        GemmDesc tight = GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 8, 12, 16, 1, 0);   // lda 16, ldb 12, ldc 12
        assertEquals(1 | 2 | 4, CudaGemm.flags(tight));
        assertEquals(2 | 4, CudaGemm.flags(tight.withLeadingDims(17, 12, 12)), "lda=17: A scalar");
        assertEquals(1 | 4, CudaGemm.flags(tight.withLeadingDims(16, 13, 12)), "ldb=13: B scalar");
        assertEquals(1 | 2, CudaGemm.flags(tight.withLeadingDims(16, 12, 14)), "ldc=14: C scalar");
        GemmDesc batched = tight.withBatch(2, 16 * 8 + 2, 12 * 16, 12 * 8);
        assertEquals(2 | 4, CudaGemm.flags(batched), "strideA not a multiple of 4: the second A is misaligned");
        assertEquals(1 | 2 | 4, CudaGemm.flags(tight.withBatch(1, 2, 3, 5)), "a single batch ignores the strides");
    }

    @Test
    void equalShapeBinaryLeavesBroadcastingToTheBroadcastKernel() {
        assertTrue(CudaElementwise.Binary.check(new BinaryDesc(BinaryOp.DIV, Shape.of(3, 7), Shape.of(3, 7))).ok());
        Support broadcast = CudaElementwise.Binary.check(new BinaryDesc(BinaryOp.ADD, Shape.of(3, 7), Shape.of(7)));
        assertFalse(broadcast.ok());
        assertEquals("cuda-binary takes equal shapes (cuda-binary-broadcast takes the rest), got [3x7] and [7]", broadcast.reason());
        assertTrue(CudaBroadcast.check(new BinaryDesc(BinaryOp.ADD, Shape.of(3, 7), Shape.of(7))).ok());
    }

    @Test
    void rowKernelsGetAPowerOfTwoBlockThatCoversTheRow() {
        assertFalse(CudaSoftmax.useRows(1, 32), "a warp's worth or less: thread per row");
        assertTrue(CudaSoftmax.useRows(1, 33));
        assertFalse(CudaSoftmax.useRows(2, 1000), "strided rows: thread per column");
        for (int length = 33; length <= 5000; length += 7) {
            int t = CudaSoftmax.rowThreads(length);
            assertEquals(1, Integer.bitCount(t), "power of two: " + t);
            assertTrue(t >= 32 && t <= 256 && t % 32 == 0, "whole warps, at most 256: " + t);
            assertTrue(t >= Math.min(length, 256), length + " -> " + t);
            assertTrue(t < 2 * length, "no more than one idle half: " + length + " -> " + t);
        }
        assertEquals(1 << 20, CudaSoftmax.rowBlocks(Integer.MAX_VALUE));
        assertEquals(7, CudaSoftmax.rowBlocks(7));
    }

    @Test
    void cublasTakesF32AndF64WithoutAnEpilogue() {
        assertTrue(CublasGemm.check(GemmDesc.of(DType.F64, Transpose.T, Transpose.N, 7, 3, 5, 1, 1).withBatch(2, 35, 15, 21)).ok());
        assertTrue(CublasGemm.check(GemmDesc.of(3, 4, 5)).ok());
        Support epilogue = CublasGemm.check(GemmDesc.of(3, 4, 5).withEpilogue(true, Activation.NONE));
        assertFalse(epilogue.ok());
        assertEquals("cublas-gemm has no bias or activation epilogue", epilogue.reason());
    }

    @Test
    void tf32GemmIsOptInAndNeedsAmpere() {
        GemmDesc d = GemmDesc.of(DType.F32, Transpose.T, Transpose.N, 257, 33, 65, 1, 0.5);
        Support off = new CudaGemm(null, false, 9).supports(d);
        assertFalse(off.ok());
        assertTrue(off.reason().contains("KILN_CUDA_TF32=1") && off.reason().contains("opt-in"), off.reason());
        Support volta = new CudaGemm(null, true, 7).supports(d);
        assertFalse(volta.ok());
        assertTrue(volta.reason().contains("8.0"), volta.reason());
        CudaGemm on = new CudaGemm(null, true, 8);
        assertTrue(on.supports(d).ok());
        assertEquals("cuda-sgemm-tf32", on.name());
        assertFalse(on.supports(GemmDesc.of(DType.F64, Transpose.N, Transpose.N, 4, 4, 4, 1, 0)).ok(), "still f32 only");
        assertFalse(new CudaGemm(null).isTf32());
        assertTrue(CudaGemm.tf32Requested("true", null));
        assertTrue(CudaGemm.tf32Requested(null, "1"));
        assertFalse(CudaGemm.tf32Requested(null, "0"));
        assertFalse(CudaGemm.tf32Requested(null, null));
        // The device lists it first, so asking for it is all it takes; without the switch the FFMA kernel runs.
        var gemms = CudaDevice.kernels(null, 8, true, null).get(dev.kiln.kernels.OpKind.GEMM);
        assertEquals(java.util.List.of("cuda-sgemm-tf32", "cuda-sgemm"), gemms.stream().map(k -> k.name()).toList());
        assertEquals(DeviceCode.tf32Entry(Transpose.T, Transpose.N), "sgemm_tf32_tn");
        assertTrue(DeviceCode.Family.GEMM_TF32.entries().contains("sgemm_tf32_tn"));
    }
}
