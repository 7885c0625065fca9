package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * f32 GEMM with an 8x16 register tile per work-item (gemm.cl), every transpose, alpha/beta (beta == 0 never
 * reads C), strided batches and the bias + activation epilogue. One program serves every variant: the
 * transposes become element strides and the rest are kernel arguments, so nothing is rebuilt per shape.
 */
final class OpenClGemm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("activation.cl") + ClPrograms.resource("gemm.cl");
    private static final int TM = 8, TN = 16;
    /**
     * Work-group shape in tiles: 16 wide (256 columns) by 4 high (32 rows). On POCL (2 EPYC cores, quiet
     * machine) 16x4 and 32x2 ran ~75 GFLOP/s at 1024^3, 8x8 ~68, the driver's own choice far less.
     */
    private static final long[] LOCAL = {16, 4, 1};

    private final OpenClDevice device;

    OpenClGemm(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-gemm-8x16"; }

    @Override public OpKind kind() { return OpKind.GEMM; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof GemmDesc d)) return Support.no("not a gemm");
        if (d.dtype() != DType.F32) return Support.no("opencl: no " + d.dtype().lower() + " gemm kernel yet (f32 only)");
        return Support.YES;
    }

    /** {global, local} for an m x n x batch launch of gemm_f32 (local null: the kernel cannot take the tuned group). */
    static long[][] launch(ClKernel kernel, int m, int n, int batch) {
        long[] local = kernel.maxWorkGroupSize() >= LOCAL[0] * LOCAL[1] ? LOCAL : null;
        long[] global = {Math.max(1, Math.ceilDiv(n, TN)), Math.max(1, Math.ceilDiv(m, TM)), batch};
        if (local != null) for (int i = 0; i < 2; i++) global[i] = Math.ceilDiv(global[i], local[i]) * local[i];
        return new long[][] {global, local};
    }

    @Override public Plan plan(OpDesc desc) {
        GemmDesc d = (GemmDesc) desc;
        ClKernel kernel = device.programs().kernel(device.programs().program("gemm.cl", SOURCE, ""), "gemm_f32");
        long sAi = d.transA() == Transpose.N ? d.lda() : 1, sAp = d.transA() == Transpose.N ? 1 : d.lda();
        long sBp = d.transB() == Transpose.N ? d.ldb() : 1, sBj = d.transB() == Transpose.N ? 1 : d.ldb();
        long[][] launch;
        try {
            launch = launch(kernel, d.m(), d.n(), d.batch());
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        long[] global = launch[0], local = launch[1];
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            if (d.m() == 0 || d.n() == 0) return;
            OpenClBuffer c = ClPlan.buf(k, args, Arg.C);
            k.launch(stream, global, local, d.m(), d.n(), d.k(),
                    ClPlan.buf(k, args, Arg.A), sAi, sAp, d.strideA(),
                    ClPlan.buf(k, args, Arg.B), sBp, sBj, d.strideB(),
                    c, (long) d.ldc(), d.strideC(),
                    (float) d.alpha(), (float) d.beta(), d.beta() == 0 ? 1 : 0,
                    // Without a bias the kernel never reads the argument, but OpenCL wants a valid cl_mem.
                    d.bias() ? ClPlan.buf(k, args, Arg.BIAS) : c, d.bias() ? 1 : 0, d.activation().ordinal(), 0L, 0L, 0L);
        });
    }
}
