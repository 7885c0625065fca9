package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every op that {@code kiln train} runs for the cnn and mlp models (batch 64 and a last batch of 7), forward
 * and backward, is accepted by the CUDA device's own kernel list, so training with KILN_BACKEND=cuda falls back
 * for nothing. The descriptors are built as nn-layers builds them (Ops.linear/gemmInto/sumRows, ConvOps.conv2d,
 * ConvOps.maxPool2d, Losses.crossEntropy/argmax, Tensor.accumulate); the list is asked without a GPU through
 * {@link CudaDevice#kernels}, whose answers depend on the descriptor only.
 */
class CudaTrainingOpsTest {
    private static final Map<OpKind, List<KernelImpl>> KERNELS = CudaDevice.kernels(null, 8, false, null);

    /** Yes if some implementation of the device's list takes {@code d} (Device.supports, without a device). */
    static Support support(OpDesc d) {
        StringBuilder why = new StringBuilder();
        for (KernelImpl k : KERNELS.getOrDefault(d.kind(), List.of())) {
            Support s = k.supports(d);
            if (s.ok()) return s;
            why.append(k.name()).append(": ").append(s.reason()).append("; ");
        }
        return Support.no(why.isEmpty() ? "no " + d.kind().lower() + " kernels" : why.toString());
    }

    /** Linear(in -> out) on m rows: forward with bias, dX, dW, db. */
    static void linear(List<OpDesc> ops, int m, int in, int out) {
        ops.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.T, m, out, in, 1, 0).withEpilogue(true, Activation.NONE));
        ops.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, m, in, out, 1, 0));
        ops.add(GemmDesc.of(DType.F32, Transpose.T, Transpose.N, out, in, m, 1, 0));
        ops.add(new ReduceDesc(ReduceOp.SUM, 1, m, out));
        ops.add(new BinaryDesc(BinaryOp.ADD, Shape.of(out, in), Shape.of(out, in)));   // gradient accumulation
    }

    static void relu(List<OpDesc> ops, long count) {
        ops.add(new UnaryDesc(UnaryOp.RELU, count));
        ops.add(new UnaryDesc(UnaryOp.RELU, count, Pass.BACKWARD));
    }

    /** Conv2d(c -> k, 5x5, pad 2) with bias on n images of side x side, every pass, then ReLU and max-pool 2. */
    static void convBlock(List<OpDesc> ops, int n, int c, int side, int k) {
        ConvDesc fwd = new ConvDesc(n, c, side, side, k, 5, 5, 1, 1, 2, 2, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, true);
        ops.add(fwd);
        ops.add(new ConvDesc(n, c, side, side, k, 5, 5, 1, 1, 2, 2, 1, 1, 1, false, 0, 0, ConvPass.BACKWARD_DATA, false));
        ops.add(fwd.withPass(ConvPass.BACKWARD_WEIGHTS));
        relu(ops, (long) n * k * side * side);
        PoolDesc pool = PoolDesc.of(PoolKind.MAX, n, k, side, side, 2, 2, 0);
        ops.add(pool);
        ops.add(pool.withPass(Pass.BACKWARD));
    }

    /** Cross-entropy over m rows of classes logits, and the accuracy's argmax. */
    static void loss(List<OpDesc> ops, int m, int classes) {
        ops.add(new SoftmaxDesc(m, classes, 1, true, Pass.FORWARD));
        ops.add(new SoftmaxDesc(m, classes, 1, true, Pass.BACKWARD));
        ops.add(new ReduceDesc(ReduceOp.ARGMAX, m, classes, 1));
    }

    static List<OpDesc> mlp(int m) {
        List<OpDesc> ops = new ArrayList<>();
        linear(ops, m, 784, 256);
        relu(ops, (long) m * 256);
        linear(ops, m, 256, 256);
        relu(ops, (long) m * 256);
        linear(ops, m, 256, 10);
        loss(ops, m, 10);
        return ops;
    }

    static List<OpDesc> cnn(int m) {
        List<OpDesc> ops = new ArrayList<>();
        convBlock(ops, m, 1, 28, 32);
        convBlock(ops, m, 32, 14, 64);
        linear(ops, m, 64 * 7 * 7, 128);
        relu(ops, (long) m * 128);
        linear(ops, m, 128, 10);
        loss(ops, m, 10);
        return ops;
    }

    private static void assertAllSupported(List<OpDesc> ops) {
        List<String> declined = new ArrayList<>();
        for (OpDesc d : ops) {
            Support s = support(d);
            if (!s.ok()) declined.add(d.opName() + " " + d.shape() + ": " + s.reason());
        }
        if (!declined.isEmpty()) fail("CUDA declines " + declined.size() + " training ops:\n" + String.join("\n", declined));
    }

    @Test void everyMlpTrainingOpRunsOnCuda() {
        assertAllSupported(mlp(64));
        assertAllSupported(mlp(7));
    }

    @Test void everyCnnTrainingOpRunsOnCuda() {
        assertAllSupported(cnn(64));
        assertAllSupported(cnn(7));
    }

    @Test void theOtherLayersOpsRunOnCudaToo() {
        List<OpDesc> ops = new ArrayList<>();
        for (NormKind kind : NormKind.values())
            for (Mode mode : Mode.values())
                if (kind == NormKind.BATCH || mode != Mode.INFERENCE)
                    ops.add(new NormDesc(kind, 7, 33, kind == NormKind.BATCH ? 17 : 1, 1e-5, mode));
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) ops.add(new PoolDesc(kind, 3, 5, 9, 11, 3, 2, 2, 1, 1, 0, true, pass));
        ops.add(new PixelShuffleDesc(2, 12, 5, 7, 2, false, DType.F32));
        ops.add(new PixelShuffleDesc(2, 3, 10, 14, 2, true, DType.F32));
        for (Pass pass : Pass.values()) {
            ops.add(new BinaryDesc(BinaryOp.MUL, Shape.of(8, 33, 65), Shape.of(33, 1), pass));   // broadcast
            ops.add(new BinaryDesc(BinaryOp.MUL, Shape.of(1000), Shape.of(1), pass));           // Ops.scale
        }
        // depthwise, dilated, transposed with output padding, grouped 1D
        for (ConvPass pass : ConvPass.values()) {
            boolean bias = pass != ConvPass.BACKWARD_DATA;
            ops.add(new ConvDesc(2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 1, 2, 2, 8, false, 0, 0, pass, bias));
            ops.add(new ConvDesc(2, 6, 5, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2, true, 1, 1, pass, bias));
            ops.add(new ConvDesc(3, 6, 1, 17, 9, 1, 4, 1, 2, 0, 3, 1, 2, 3, false, 0, 0, pass, bias));
        }
        assertAllSupported(ops);
    }

    @Test void f64GoesElsewhereWithTheReason() {
        Support s = support(new ConvDesc(1, 1, 3, 3, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, false)
                .withDType(DType.F64));
        assertFalse(s.ok());
        assertTrue(s.reason().contains("f64"), s.reason());
    }

    @Test void everyDenseOpKindHasCudaKernels() {
        // Kinds without CUDA kernels fall back; the dense and sparse ones must all be here.
        List<OpKind> missing = new ArrayList<>();
        for (OpKind k : OpKind.values()) if (!KERNELS.containsKey(k)) missing.add(k);
        for (OpKind k : List.of(OpKind.GEMM, OpKind.CONV, OpKind.UNARY, OpKind.BINARY, OpKind.REDUCE, OpKind.SOFTMAX,
                OpKind.NORM, OpKind.POOL, OpKind.PIXEL_SHUFFLE, OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM))
            assertFalse(missing.contains(k), k + " has CUDA kernels");
    }
}
