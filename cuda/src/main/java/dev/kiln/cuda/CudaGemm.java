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
 *
 * <p>A second instance, "cuda-sgemm-tf32", runs the same tiles on tensor cores ({@code gemm_tf32.cu}, mma.sync
 * m16n8k8 TF32, same arguments and launch). It declines every descriptor unless KILN_CUDA_TF32=1 (or
 * -Dkiln.cuda.tf32=true) and the GPU is compute capability 8.0+: TF32 keeps 10 mantissa bits of each input,
 * which the f32 parity tolerances do not allow, so it is chosen only on request. GemmDesc is unchanged.
 */
final class CudaGemm extends CudaKernel {
    private static final int TILE = 128, THREADS = 256, MAX_GRID_YZ = 65535;
    private static final int VEC_A = 1, VEC_B = 2, VEC_C = 4;   // FLAG_VEC_* in gemm.cu

    /** The switch that enables the TF32 tensor-core variant: environment KILN_CUDA_TF32 or -Dkiln.cuda.tf32. */
    static final String TF32_ENV = "KILN_CUDA_TF32", TF32_PROPERTY = "kiln.cuda.tf32";

    /** Null for the FFMA kernel (gemm.cu); for the TF32 one (gemm_tf32.cu), why it is off, or "" when on. */
    private final String tf32Off;

    CudaGemm(CudaDevice device) {
        super(device, "cuda-sgemm", OpKind.GEMM);
        this.tf32Off = null;
    }

    /**
     * The TF32 tensor-core variant, listed before the FFMA kernel: {@code requested} is the opt-in switch
     * ({@link #tf32Requested}), {@code computeMajor} the device's (mma.sync TF32 needs 8.0 or newer).
     */
    CudaGemm(CudaDevice device, boolean requested, int computeMajor) {
        super(device, "cuda-sgemm-tf32", OpKind.GEMM);
        this.tf32Off = !requested
                ? "TF32 rounds inputs to a 10-bit mantissa, so it is opt-in: set " + TF32_ENV + "=1 or -D" + TF32_PROPERTY + "=true"
                : computeMajor < 8 ? "TF32 mma.sync needs compute capability 8.0 or newer, the device has " + computeMajor + ".x" : "";
    }

    /** Whether the TF32 switch is on: KILN_CUDA_TF32 or kiln.cuda.tf32 set to 1 or true. */
    static boolean tf32Requested() { return tf32Requested(System.getProperty(TF32_PROPERTY), System.getenv(TF32_ENV)); }

    static boolean tf32Requested(String property, String env) {
        for (String v : new String[] {property, env})
            if (v != null && (v.equals("1") || v.equalsIgnoreCase("true"))) return true;
        return false;
    }

    boolean isTf32() { return tf32Off != null; }

    @Override public Support supports(OpDesc desc) {
        if (tf32Off != null && !tf32Off.isEmpty()) return Support.no(tf32Off);
        return check(desc);
    }

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
        CudaModules.Kernel kernel = isTf32()
                ? device.modules().kernel(DeviceCode.Family.GEMM_TF32, DeviceCode.tf32Entry(d.transA(), d.transB()))
                : device.modules().kernel(DeviceCode.Family.GEMM, DeviceCode.gemmEntry(d.transA(), d.transB()));
        int flags = flags(d);
        return plan(d, (stream, args) -> launch(kernel, d.opName(), stream(stream, d),
                d.m(), d.n(), d.k(),
                buffer(args, Arg.A, d), d.lda(), d.strideA(),
                buffer(args, Arg.B, d), d.ldb(), d.strideB(),
                buffer(args, Arg.C, d), d.ldc(), d.strideC(),
                (float) d.alpha(), (float) d.beta(),
                d.bias() ? buffer(args, Arg.BIAS, d) : null,
                d.activation().ordinal(), d.batch(), flags));
    }

    /**
     * The one launch of a gemm.cu / gemm_tf32.cu entry, also used by {@link CudaConvGemm}: operands are
     * {@link CudaBuffer}s or {@link CudaModules.At} slices, {@code bias} may be null; {@code flags} from
     * {@link #flags(int, long, long, int, long, long, int, long, long, int)}.
     */
    static void launch(CudaModules.Kernel kernel, String op, CudaStream stream, int m, int n, int k,
                       Object a, int lda, long strideA, Object b, int ldb, long strideB, Object c, int ldc, long strideC,
                       float alpha, float beta, Object bias, int activation, int batch, int flags) {
        if (m == 0 || n == 0) return;   // nothing to write; k == 0 still runs (C = act(beta*C + bias))
        kernel.launch(op, stream, Math.ceilDiv(n, TILE), Math.ceilDiv(m, TILE), Math.min(batch, MAX_GRID_YZ), THREADS,
                m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, alpha, beta, bias, activation, batch, flags);
    }

    /** FLAG_VEC_A/B/C of gemm.cu: which operands may be read or written as float4. */
    static int flags(GemmDesc d) {
        return flags(d.lda(), d.strideA(), 0, d.ldb(), d.strideB(), 0, d.ldc(), d.strideC(), 0, d.batch());
    }

    /** The flags for operands that start {@code offA}, {@code offB}, {@code offC} elements into their (aligned) buffers. */
    static int flags(int lda, long strideA, long offA, int ldb, long strideB, long offB, int ldc, long strideC, long offC, int batch) {
        return (aligned(lda, strideA, offA, batch) ? VEC_A : 0)
                | (aligned(ldb, strideB, offB, batch) ? VEC_B : 0)
                | (aligned(ldc, strideC, offC, batch) ? VEC_C : 0);
    }

    /** Rows start 16-byte aligned in every batch: float4 access is safe where the elements are in range. */
    private static boolean aligned(int ld, long stride, long offset, int batch) {
        return ld % 4 == 0 && offset % 4 == 0 && (batch == 1 || stride % 4 == 0);
    }
}
