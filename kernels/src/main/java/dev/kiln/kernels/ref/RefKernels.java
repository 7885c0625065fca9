package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

/**
 * The oracle: one deliberately naive kernel per op family, on host buffers, accumulating in double.
 * Never tuned; every backend is tested against these. They trust their arguments (validated by the facade).
 */
public final class RefKernels {
    private RefKernels() {}

    /** Runs the reference kernel for {@code desc}; every operand must be a host buffer. */
    public static void run(OpDesc desc, Args args) {
        switch (desc) {
            case GemmDesc d -> RefGemm.run(d, args);
            case ConvDesc d -> RefConv.run(d, args);
            case UnaryDesc d -> RefElementwise.unary(d, args);
            case BinaryDesc d -> RefElementwise.binary(d, args);
            case ReduceDesc d -> RefReduce.run(d, args);
            case SoftmaxDesc d -> RefSoftmax.run(d, args);
            case NormDesc d -> RefNorm.run(d, args);
            case PoolDesc d -> RefPool.run(d, args);
            case PixelShuffleDesc d -> RefPixelShuffle.run(d, args);
            case SpmmDesc d -> RefSpmm.run(d, args);
            case QGemmDesc d -> RefQGemm.run(d, args);
            case DsmmDesc d -> RefDsmm.run(d, args);
            case SddmmDesc d -> RefSddmm.run(d, args);
            case QuantizeDesc d -> RefQuantize.run(d, args);
            case ConvertDesc d -> RefConvert.run(d, args);
            case Blas1Desc d -> RefBlas1.run(d, args);
        }
    }

    /** The reference kernels as an implementation a host-memory device can list last. */
    public static KernelImpl impl(OpKind kind) {
        return new KernelImpl() {
            @Override public String name() { return "ref"; }

            @Override public OpKind kind() { return kind; }

            @Override public Support supports(OpDesc desc) {
                return desc.kind() == kind ? Support.YES : Support.no("not a " + kind.lower() + " op");
            }

            @Override public Plan plan(OpDesc desc) {
                return new Plan() {
                    @Override public OpDesc desc() { return desc; }

                    @Override public String implementation() { return "ref"; }

                    @Override public void execute(Stream stream, Args args) { run(desc, args); }
                };
            }
        };
    }
}
