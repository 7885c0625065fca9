package dev.kiln.kernels.desc;

import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * An immutable description of one operation: everything a backend needs to choose and build a kernel,
 * nothing about where the operands live. Constructors validate their fields and throw
 * {@link IllegalArgumentException} naming the op and the numbers. Tensors are row-major (C order);
 * images are NCHW and convolution weights KCRS unless a descriptor says otherwise.
 */
public sealed interface OpDesc
        permits GemmDesc, ConvDesc, UnaryDesc, BinaryDesc, ReduceDesc, SoftmaxDesc, NormDesc, PoolDesc,
                PixelShuffleDesc, SpmmDesc, QGemmDesc, DsmmDesc, SddmmDesc, QuantizeDesc, ConvertDesc, Blas1Desc {

    OpKind kind();

    /** The operands, each with its dtype and minimum element count; outputs are the specs that write. */
    List<ArgSpec> args();

    /** Arithmetic work in floating-point (or integer) operations, a multiply-add counting 2. */
    double flops();

    /** A short name of the op variant for traces and errors, e.g. {@code gemm} or {@code conv.bwd-data}. */
    String opName();

    /** The shape in a compact form for traces and tables, e.g. {@code m=128 n=64 k=32}. */
    String shape();

    /** The op's main element type, shown in traces. */
    dev.kiln.kernels.DType dtype();

    default ArgSpec spec(Arg arg) {
        for (ArgSpec s : args()) if (s.arg() == arg) return s;
        return null;
    }

    /** Total bytes of all operands, read or written: the traffic a host-device copy would cost. */
    default long operandBytes() {
        long total = 0;
        try {
            for (ArgSpec s : args()) total = Math.addExact(total, s.dtype().bytes(s.count()));
        } catch (ArithmeticException | IllegalArgumentException e) {
            throw new IllegalArgumentException(opName() + ": operand bytes overflow a long (" + shape() + ")", e);
        }
        return total;
    }
}
