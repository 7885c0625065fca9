package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * f32 GEMM with the bias and activation epilogue, batched, any transposes and leading dimensions
 * ({@code gemm.cu}: 128 x 128 tiles, 8 x 8 outputs per thread). Float4 loads are enabled per operand when
 * its leading dimension and batch stride are multiples of 4 (buffers themselves are 256-byte aligned).
 * f64 is not offered: consumer GPUs run it at 1/64 rate; dispatch falls back to the CPU.
 */
final class CudaGemm extends CudaKernel {
    private static final int TILE = 128, THREADS = 256, MAX_GRID_YZ = 65535;
    private static final int VEC_A = 1, VEC_B = 2, VEC_C = 4;   // FLAG_VEC_* in gemm.cu

    CudaGemm(CudaDevice device) { super(device, "cuda-sgemm", OpKind.GEMM); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    /** The support answer, which depends on the descriptor only. */
    static Support check(OpDesc desc) {
        if (!(desc instanceof GemmDesc d)) return Support.no("not a gemm descriptor: " + desc.opName());
        if (d.dtype() != DType.F32) return Support.no("cuda-sgemm is f32 only, got " + d.dtype().lower());
        if (Math.ceilDiv(d.m(), TILE) > MAX_GRID_YZ)
            return Support.no("cuda-sgemm handles m <= " + (long) TILE * MAX_GRID_YZ + " (grid y limit), got m=" + d.m());
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        GemmDesc d = (GemmDesc) desc;
        assert check(d).ok() : check(d).reason();
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.GEMM, DeviceCode.gemmEntry(d.transA(), d.transB()));
        int flags = flags(d);
        int gx = Math.ceilDiv(d.n(), TILE), gy = Math.ceilDiv(d.m(), TILE), gz = Math.min(d.batch(), MAX_GRID_YZ);
        return plan(d, (stream, args) -> {
            if (d.m() == 0 || d.n() == 0) return;   // nothing to write; k == 0 still runs (C = act(beta*C + bias))
            kernel.launch(d.opName(), stream(stream, d), gx, gy, gz, THREADS,
                    d.m(), d.n(), d.k(),
                    buffer(args, Arg.A, d), d.lda(), d.strideA(),
                    buffer(args, Arg.B, d), d.ldb(), d.strideB(),
                    buffer(args, Arg.C, d), d.ldc(), d.strideC(),
                    (float) d.alpha(), (float) d.beta(),
                    d.bias() ? buffer(args, Arg.BIAS, d) : null,
                    d.activation().ordinal(), d.batch(), flags);
        });
    }

    /** FLAG_VEC_A/B/C of gemm.cu: which operands may be read or written as float4. */
    static int flags(GemmDesc d) {
        return (aligned(d.lda(), d.strideA(), d.batch()) ? VEC_A : 0)
                | (aligned(d.ldb(), d.strideB(), d.batch()) ? VEC_B : 0)
                | (aligned(d.ldc(), d.strideC(), d.batch()) ? VEC_C : 0);
    }

    /** Rows start 16-byte aligned in every batch: float4 access is safe where the elements are in range. */
    private static boolean aligned(int ld, long stride, int batch) {
        return ld % 4 == 0 && (batch == 1 || stride % 4 == 0);
    }
}
