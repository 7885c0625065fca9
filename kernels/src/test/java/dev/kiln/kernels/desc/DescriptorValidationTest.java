package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.*;

/** Every descriptor's constructor rejects bad fields with an IllegalArgumentException naming the op and the numbers. */
class DescriptorValidationTest {
    private static void bad(Executable make, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make);
        for (String f : fragments)
            assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
    }

    private static final int BIG = Integer.MAX_VALUE;

    @Test void gemm() {
        bad(() -> GemmDesc.of(DType.S8, Transpose.N, Transpose.N, 2, 2, 2, 1, 0), "gemm", "dtype must be f32 or f64, got s8");
        bad(() -> GemmDesc.of(-1, 2, 3), "gemm", "m must be >= 0, got -1");
        bad(() -> GemmDesc.of(2, 3, 4).withLeadingDims(3, 3, 3), "gemm", "lda = 3 must be >= 4");
        bad(() -> GemmDesc.of(2, 3, 4).withLeadingDims(4, 2, 3), "gemm", "ldb = 2 must be >= 3");
        bad(() -> GemmDesc.of(2, 3, 4).withBatch(0, 0, 0, 0), "gemm", "batch must be > 0, got 0");
        bad(() -> GemmDesc.of(2, 3, 4).withBatch(2, 8, 12, 5), "gemm", "strideC = 5 must be >= 6");
        bad(() -> GemmDesc.of(2, 3, 4).withBatch(2, -1, 12, 6), "gemm", "strideA must be >= 0, got -1");
        bad(() -> GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 2, 2, 2, Double.NaN, 0), "gemm", "alpha=NaN");
        bad(() -> GemmDesc.of(2, 3, 4).withEpilogue(false, null), "gemm", "activation is null");
        // Valid, but the operand byte total cannot be counted: an IllegalArgumentException naming the op, not an ArithmeticException.
        bad(() -> new GemmDesc(DType.F64, Transpose.N, Transpose.N, BIG, BIG, BIG, BIG, BIG, BIG, 1, 0, 1, 0, 0, 0, false,
                dev.kiln.kernels.desc.Activation.NONE).operandBytes(), "gemm", "operand bytes overflow a long", "m=" + BIG);
        bad(() -> DType.F64.bytes(Long.MAX_VALUE / 8), "byte size of", "f64 elements overflows a long");
        assertEquals(0, GemmDesc.of(0, 3, 4).args().stream().filter(s -> s.arg() == Arg.C).findFirst().orElseThrow().count());
    }

    @Test void conv() {
        bad(() -> new ConvDesc(1, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3, false, 0, 0, ConvPass.FORWARD, false),
                "conv", "groups=3 must divide c=4 and k=6");
        bad(() -> ConvDesc.conv2d(1, 3, 4, 4, 2, 7, 3, 1, 1), "conv", "output would be 0 x 4", "kernel 7 x 3");
        bad(() -> ConvDesc.conv2d(1, 3, 4, 4, 2, 3, 3, 0, 1), "conv", "strideH must be > 0, got 0");
        bad(() -> ConvDesc.conv2d(1, 3, 4, 4, 2, 3, 3, 1, -1), "conv", "padH must be >= 0, got -1");
        bad(() -> ConvDesc.conv2d(0, 3, 4, 4, 2, 3, 3, 1, 1), "conv", "n must be > 0, got 0");
        bad(() -> new ConvDesc(1, 3, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 1, 0, ConvPass.FORWARD, false),
                "conv", "output padding needs a transposed convolution");
        bad(() -> new ConvDesc(1, 3, 4, 4, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, true, 2, 0, ConvPass.FORWARD, false),
                "conv_transpose", "output padding (2,0) must be smaller than stride or dilation");
        bad(() -> ConvDesc.conv2d(1, 3, 4, 4, 2, 3, 3, 1, 1).withBias(true).withPass(ConvPass.FORWARD)
                .withPass(ConvPass.BACKWARD_WEIGHTS).asTransposed(0, 0).withBias(true).withGroups(2), "conv_transpose", "groups=2 must divide c=3");
        bad(() -> new ConvDesc(1, 3, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, ConvPass.BACKWARD_DATA, true),
                "conv", "backward-data takes no bias");
        bad(() -> ConvDesc.conv2d(1, 3, 4, 4, 2, 3, 3, 1, 1).withDilation(0, 1), "conv", "dilationH must be > 0, got 0");
        // The output extent of a transposed convolution must fit an int (p() and q() are ints).
        bad(() -> new ConvDesc(1, 1, 1 << 30, 1, 1, 1, 1, 4, 1, 0, 0, 1, 1, 1, true, 0, 0, ConvPass.FORWARD, false),
                "conv_transpose", "output height p = 4294967293 exceeds " + BIG);
        bad(() -> new ConvDesc(BIG, BIG, BIG, BIG, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, false),
                "conv", "overflows a long");
    }

    @Test void unaryAndBinary() {
        bad(() -> new UnaryDesc(UnaryOp.RELU, -3), "relu", "count must be >= 0, got -3");
        bad(() -> new UnaryDesc(null, 3), "unary", "op is null");
        bad(() -> new UnaryDesc(UnaryOp.TANH, 3, null), "unary", "pass is null");
        bad(() -> new BinaryDesc(BinaryOp.ADD, Shape.of(2, 3), Shape.of(4)), "add", "[2x3] and [4] do not broadcast", "3 vs 4");
        bad(() -> new BinaryDesc(BinaryOp.SUB, Shape.of(5, 1, 3), Shape.of(2, 4, 1)), "sub", "5 vs 2");
        bad(() -> new BinaryDesc(BinaryOp.MUL, null, Shape.of(4)), "binary", "a is null");
        bad(() -> new BinaryDesc(null, Shape.of(4), Shape.of(4)), "binary", "op is null");
        bad(() -> Shape.of(3, -2), "shape", "dimension 1 is -2");
        bad(() -> new BinaryDesc(BinaryOp.DIV, Shape.of(1 << 30, 1 << 30), Shape.of(1)), "div", "have 1152921504606846976 elements");
        bad(() -> new Shape(null), "shape", "dims is null");
    }

    @Test void reduceAndSoftmax() {
        bad(() -> new ReduceDesc(ReduceOp.SUM, 2, 0, 3), "reduce.sum", "length must be > 0, got 0");
        bad(() -> new ReduceDesc(ReduceOp.ARGMAX, -1, 2, 3), "reduce.argmax", "outer must be > 0, got -1");
        bad(() -> ReduceDesc.along(ReduceOp.MAX, Shape.of(2, 3), 2), "reduce", "axis 2 out of range for shape [2x3]");
        bad(() -> new ReduceDesc(ReduceOp.MEAN, BIG, BIG, BIG), "reduce.mean", "overflows a long");
        bad(() -> new SoftmaxDesc(2, 3, 0, true, Pass.FORWARD), "log_softmax", "inner must be > 0, got 0");
        bad(() -> new SoftmaxDesc(2, 3, 1, false, null), "softmax", "pass is null");
    }

    @Test void norm() {
        bad(() -> new NormDesc(NormKind.BATCH, 2, 3, 4, 0, Mode.TRAINING), "batch_norm", "eps must be a positive finite number, got 0.0");
        bad(() -> new NormDesc(NormKind.LAYER, 2, 3, 4, 1e-5, Mode.TRAINING), "layer_norm", "spatial must be 1, got 4");
        bad(() -> new NormDesc(NormKind.RMS, 2, 3, 1, 1e-5, Mode.INFERENCE), "rms_norm.inference", "inference mode is for batch norm only");
        bad(() -> new NormDesc(NormKind.BATCH, 0, 3, 4, 1e-5, Mode.BACKWARD), "batch_norm.bwd", "n must be > 0, got 0");
        bad(() -> new NormDesc(NormKind.BATCH, 2, 3, 4, Double.POSITIVE_INFINITY, Mode.TRAINING), "batch_norm", "got Infinity");
    }

    @Test void pool() {
        bad(() -> PoolDesc.of(PoolKind.MAX, 1, 1, 5, 5, 3, 1, 2), "max_pool", "padding (2,2) must be at most half the window (3,3)");
        bad(() -> PoolDesc.of(PoolKind.AVG, 1, 1, 2, 2, 5, 1, 1), "avg_pool", "window 5x5 larger than padded input 4x4");
        bad(() -> PoolDesc.of(PoolKind.AVG, 1, 1, 4, 4, 2, 0, 0), "avg_pool", "strideH must be > 0, got 0");
        bad(() -> new PoolDesc(PoolKind.MAX, 1, 1, 4, 4, 2, 2, 1, 1, 0, 0, false, null), "pool", "pass is null");
        // 2 * padH used to wrap to a negative int and pass.
        bad(() -> new PoolDesc(PoolKind.MAX, 1, 1, 4, 4, 3, 3, 1, 1, 1 << 30, 0, false, Pass.FORWARD),
                "max_pool", "padding (1073741824,0) must be at most half the window (3,3)");
        bad(() -> new PoolDesc(PoolKind.MAX, 1, 1, BIG - 1, 4, BIG, 3, 1, 1, 1, 0, false, Pass.FORWARD), "max_pool", "padded height");
    }

    @Test void pixelShuffle() {
        bad(() -> new PixelShuffleDesc(1, 5, 2, 2, 2, false), "pixel_shuffle", "c=5 must be a multiple of factor^2=4");
        bad(() -> new PixelShuffleDesc(1, 5, 3, 4, 2, true), "pixel_unshuffle", "h=3 and w=4 must be multiples of factor 2");
        bad(() -> new PixelShuffleDesc(1, 4, 2, 2, 0, false), "pixel_shuffle", "factor must be > 0, got 0");
        // factor^2 used to overflow an int (65536^2 = 0), giving a division by zero.
        bad(() -> new PixelShuffleDesc(1, 4, 2, 2, 65536, false), "pixel_shuffle", "factor^2=4294967296");
        bad(() -> new PixelShuffleDesc(1, 4, 1 << 20, 1, 1 << 12, false), "pixel_shuffle", "c=4 must be a multiple");
        bad(() -> new PixelShuffleDesc(1, 4 * 4, 1 << 30, 1, 4, false), "pixel_shuffle", "h*factor = 4294967296 exceeds");
    }

    @Test void spmm() {
        bad(() -> SpmmDesc.csr(2, 3, 4, 9), "spmm.csr", "nnz=9 exceeds m*k=8");
        bad(() -> SpmmDesc.csr(2, 3, 4, -1), "spmm.csr", "nnz must be >= 0, got -1");
        bad(() -> SpmmDesc.bsr(5, 3, 4, 1, 2, 2), "spmm.bsr", "m=5 and k=4 must be multiples of the block 2x2");
        bad(() -> SpmmDesc.bsr(4, 3, 4, 5, 2, 2), "spmm.bsr", "nnz=5 blocks exceed the 4 blocks");
        bad(() -> SpmmDesc.bsr(4, 3, 4, 1, 0, 2), "spmm.bsr", "blockRows must be > 0, got 0");
        bad(() -> SpmmDesc.twoFour(2, 3, 6), "spmm.2:4", "k=6 must be a multiple of 4");
        bad(() -> new SpmmDesc(SpmmDesc.SparseFormat.TWO_FOUR, 2, 3, 8, 7, 1, 4), "spmm.2:4", "nnz must be m*k/2=8, got 7");
        // m*k/2 beyond an int used to wrap silently in both the factory and the check.
        bad(() -> SpmmDesc.twoFour(1 << 20, 1, 1 << 14), "spmm.2:4", "nnz m*k/2 = 8589934592 exceeds");
        bad(() -> SpmmDesc.csr(0, 3, 4, 0), "spmm.csr", "m must be > 0, got 0");
    }

    @Test void qgemm() {
        bad(() -> QGemmDesc.s8(2, 3, 4, DType.F64), "qgemm.s8s8", "output must be s32, f32 or s8, got f64");
        bad(() -> QGemmDesc.binary(2, 3, 4, DType.S8), "qgemm.b1", "output must be s32 or f32, got s8");
        bad(() -> QGemmDesc.s8(2, 3, 131072, DType.S32), "qgemm.s8s8", "k=131072 would overflow the s32 accumulator");
        bad(() -> QGemmDesc.u8s8(2, 3, 65793, DType.S32), "qgemm.u8s8", "k=65793");
        bad(() -> QGemmDesc.s4(2, 3, 12, 5), "qgemm.s4", "k=12 must be a multiple of groupSize=5");
        bad(() -> QGemmDesc.s4(2, 3, 3, 3), "qgemm.s4", "k=3 must be even");
        bad(() -> QGemmDesc.s4(2, 3, 4, 0), "qgemm.s4", "groupSize must be > 0, got 0");
        bad(() -> QGemmDesc.lmul(2, 3, 4, 5), "qgemm.lmul", "mantissaBits must be 3 or 4, got 5");
        bad(() -> QGemmDesc.binary(2, 0, 4, DType.S32), "qgemm.b1", "n must be > 0, got 0");
        bad(() -> new QGemmDesc(QGemmDesc.QuantType.S4, 2, 3, 4, 2, DType.S32, 0), "qgemm.s4", "output must be f32, got s32");
        bad(() -> new QGemmDesc(null, 2, 3, 4, 2, DType.S32, 0), "qgemm", "type is null");
    }
}
