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
 * GEMM through gemm.cl: f32, and f64 on devices with cl_khr_fp64; every transpose, alpha/beta (beta == 0
 * never reads C), strided batches and the bias + activation epilogue. The transposes become element strides
 * and the rest are kernel arguments, so one program per register-tile variant ({@link GemmVariant}) serves
 * every shape. The variant comes from the device's {@link GemmTuner}: the tuning cache, a tuning run when
 * {@code KILN_AUTOTUNE=1}, or the device's default. The plan's implementation name carries it, e.g.
 * {@code opencl-gemm-6x64k256}, and with {@code KILN_VERBOSE=dispatch} planning prints one line saying which
 * variant and where it came from.
 */
final class OpenClGemm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("activation.cl") + ClPrograms.resource("gemm.cl");

    private final OpenClDevice device;
    private final GemmVariant forced;

    OpenClGemm(OpenClDevice device) { this(device, null); }

    /** Always {@code variant} (null: the tuner's choice); tests run every variant through the parity cases this way. */
    OpenClGemm(OpenClDevice device, GemmVariant variant) {
        this.device = device;
        this.forced = variant;
    }

    /** The family name; each plan names its variant ({@link Plan#implementation()}). */
    @Override public String name() { return "opencl-gemm"; }

    @Override public OpKind kind() { return OpKind.GEMM; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof GemmDesc d)) return Support.no("not a gemm");
        if (d.dtype() == DType.F64 && !device.fp64())
            return Support.no("opencl: " + device.name() + " has no cl_khr_fp64, so no f64 gemm");
        if (d.dtype() != DType.F32 && d.dtype() != DType.F64) return Support.no("opencl: no " + d.dtype().lower() + " gemm kernel");
        return Support.YES;
    }

    /** A new kernel object of {@code variant}'s program (built once per device, cached on disk), labelled with the variant. */
    static ClKernel kernel(OpenClDevice device, GemmVariant variant, DType dtype) {
        String label = GemmVariant.kernelName(dtype) + "[" + variant.name(dtype) + "]";
        var program = device.programs().program("gemm.cl " + variant.name(dtype), SOURCE, variant.options(dtype));
        return device.programs().kernel(program, GemmVariant.kernelName(dtype)).labelled(label);
    }

    @Override public Plan plan(OpDesc desc) {
        GemmDesc d = (GemmDesc) desc;
        GemmTuner.Choice choice;
        if (forced != null) choice = new GemmTuner.Choice(forced, "forced");
        else {
            try (GemmTuner.Bench bench = new GemmTuner.Bench(device, d)) {
                choice = device.gemmTuner().choose(d, GemmTuner.enabled(), bench);
            }
        }
        GemmVariant v = choice.variant();
        if (ClTrace.enabled())
            ClTrace.line("opencl " + d.opName() + " " + d.shape() + " class " + GemmTuner.shapeClass(d) + ": variant "
                    + v.name(d.dtype()) + " (" + choice.source() + ")");
        ClKernel kernel = kernel(device, v, d.dtype());
        long[][] launch;
        try {
            launch = v.launch(kernel, d.dtype(), d.m(), d.n(), d.batch());
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        return new ClPlan(d, name() + "-" + v.name(d.dtype()), kernel, (k, stream, args) -> {
            if (d.m() == 0 || d.n() == 0) return;
            enqueue(k, stream, launch, d, ClPlan.buf(k, args, Arg.A), ClPlan.buf(k, args, Arg.B), ClPlan.buf(k, args, Arg.C),
                    d.bias() ? ClPlan.buf(k, args, Arg.BIAS) : null);
        });
    }

    /** Sets {@code d}'s arguments on {@code kernel} and enqueues it; {@code bias} null when d has none. */
    static void enqueue(ClKernel kernel, OpenClStream stream, long[][] launch, GemmDesc d,
                        OpenClBuffer a, OpenClBuffer b, OpenClBuffer c, OpenClBuffer bias) {
        long sAi = d.transA() == Transpose.N ? d.lda() : 1, sAp = d.transA() == Transpose.N ? 1 : d.lda();
        long sBp = d.transB() == Transpose.N ? d.ldb() : 1, sBj = d.transB() == Transpose.N ? 1 : d.ldb();
        boolean f64 = d.dtype() == DType.F64;
        Object alpha = f64 ? (Object) d.alpha() : (Object) (float) d.alpha(), beta = f64 ? (Object) d.beta() : (Object) (float) d.beta();
        kernel.launch(stream, launch[0], launch[1], d.m(), d.n(), d.k(),
                a, sAi, sAp, d.strideA(),
                b, sBp, sBj, d.strideB(),
                c, (long) d.ldc(), d.strideC(),
                alpha, beta, d.beta() == 0 ? 1 : 0,
                // Without a bias the kernel never reads the argument, but OpenCL wants a valid cl_mem.
                bias != null ? bias : c, bias != null ? 1 : 0, d.activation().ordinal(), 0L, 0L, 0L);
    }
}
