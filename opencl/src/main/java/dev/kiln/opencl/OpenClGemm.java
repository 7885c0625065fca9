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

import java.util.ArrayList;
import java.util.List;

/**
 * GEMM through gemm.cl: f32, and f64 on devices with cl_khr_fp64; every transpose, alpha/beta (beta == 0
 * never reads C), strided batches and the bias + activation epilogue. The transposes become element strides
 * and the rest are kernel arguments, so one program per register-tile variant ({@link GemmVariant}) serves
 * every shape. The variant comes from the device's {@link GemmTuner}: the tuning cache, a tuning run when
 * {@code KILN_AUTOTUNE=1}, or the device's default. The plan's implementation name carries it, e.g.
 * {@code opencl-gemm-6x64p}, and with {@code KILN_VERBOSE=dispatch} planning prints one line saying which
 * variant and where it came from.
 *
 * <p>A variant that packs B ({@link GemmVariant#packB()}) makes a plan of two kernels on one queue: gemm.cl's
 * pack kernel copies op(B) into contiguous column panels in a scratch buffer the plan owns, then the GEMM
 * reads the panels. Only where it pays: k > 0 (with k == 0 nothing reads B) and m above one work-group's
 * rows or B transposed (the in-place kernel gathers a transposed B element by element); otherwise the plan
 * runs the variant's {@link GemmVariant#inPlace()} form. The scratch holds at most {@value #PACK_SCRATCH_MIB} MiB: a batch is packed
 * and multiplied in chunks of as many matrices as fit, and a single B larger than that is read in place.
 */
final class OpenClGemm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("activation.cl") + ClPrograms.resource("gemm.cl");

    /** The most device scratch a packing plan holds for B panels. */
    static final long PACK_SCRATCH_MIB = 64;

    private final OpenClDevice device;
    private final GemmVariant forced;
    private final long packScratchBytes;

    OpenClGemm(OpenClDevice device) { this(device, null); }

    /** Always {@code variant} (null: the tuner's choice); tests run every variant through the parity cases this way. */
    OpenClGemm(OpenClDevice device, GemmVariant variant) { this(device, variant, PACK_SCRATCH_MIB << 20); }

    /** With at most {@code packScratchBytes} of pack scratch per plan (tests make batches go through in chunks). */
    OpenClGemm(OpenClDevice device, GemmVariant variant, long packScratchBytes) {
        this.device = device;
        this.forced = variant;
        this.packScratchBytes = packScratchBytes;
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

    /**
     * A new GEMM kernel object of {@code variant}'s tile reading op(B) in place (for callers with their own
     * launches, such as OpenClConvGemm; a packing variant gives its {@link GemmVariant#inPlace()} build), labelled with it.
     */
    static ClKernel kernel(OpenClDevice device, GemmVariant variant, DType dtype) {
        return kernel(device, variant.inPlace(), dtype, GemmVariant.kernelName(dtype));
    }

    /** Kernel {@code name} of {@code variant}'s program (built once per device, cached on disk), labelled with the variant. */
    private static ClKernel kernel(OpenClDevice device, GemmVariant variant, DType dtype, String name) {
        var program = device.programs().program("gemm.cl " + variant.name(dtype), SOURCE, variant.options(dtype));
        return device.programs().kernel(program, name).labelled(name + "[" + variant.name(dtype) + "]");
    }

    /**
     * How many matrices of {@code d}'s batch one pack fills into the scratch, or 0 when {@code v} should read B
     * in place: no packing variant, nothing to pack (k == 0), too little reuse (m within one work-group's rows
     * and B not transposed), or one packed B above {@code scratchBytes}.
     */
    static int packChunk(GemmDesc d, GemmVariant v, long scratchBytes) {
        if (!v.packB() || d.k() == 0 || d.m() == 0 || d.n() == 0) return 0;
        if (d.m() <= v.rows() * v.groupY() && d.transB() == Transpose.N) return 0;
        long bytes = d.dtype().bytes(packedElements(d, v));
        return (int) Math.min(d.batch(), scratchBytes / bytes);
    }

    /** Elements of one packed op(B): whole panels of the tile's width times k. */
    private static long packedElements(GemmDesc d, GemmVariant v) {
        int width = v.columns(d.dtype());
        return (long) Math.ceilDiv(d.n(), width) * width * d.k();
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
        int chunk = packChunk(d, v, packScratchBytes);
        if (chunk == 0) return inPlace(d, v.inPlace());
        return packing(d, v, chunk);
    }

    /** The plan reading op(B) where it lies: one kernel. */
    private Plan inPlace(GemmDesc d, GemmVariant v) {
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

    /**
     * The plan packing B: per chunk of {@code chunk} matrices, the pack kernel fills the scratch with their
     * panels, then the GEMM (built with GEMM_PACK_B) runs over the chunk with offsets into A and C.
     */
    private Plan packing(GemmDesc d, GemmVariant v, int chunk) {
        DType t = d.dtype();
        long packed = packedElements(d, v);
        int panels = Math.ceilDiv(d.n(), v.columns(t)), rowBlocks = Math.ceilDiv(d.k(), GemmVariant.PACK_ROWS);
        List<ClKernel> ks = new ArrayList<>(2);
        List<OpenClBuffer> scratch = new ArrayList<>(1);
        long[][] full, rest;
        try {
            ks.add(kernel(device, v, t, GemmVariant.kernelName(t)));
            ks.add(kernel(device, v, t, GemmVariant.packKernelName(t)));
            full = v.launch(ks.getFirst(), t, d.m(), d.n(), chunk);
            int last = d.batch() % chunk;
            rest = last == 0 ? full : v.launch(ks.getFirst(), t, d.m(), d.n(), last);
            scratch.add(device.allocate(t, packed * chunk));
        } catch (RuntimeException e) {
            for (ClKernel k : ks) k.close();
            for (OpenClBuffer b : scratch) b.close();
            throw e;
        }
        OpenClBuffer panelsBuf = scratch.getFirst();
        long sBp = d.transB() == Transpose.N ? d.ldb() : 1, sBj = d.transB() == Transpose.N ? 1 : d.ldb();
        ClPlan.MultiBody body = (kernels, stream, args) -> {
            ClKernel gemm = kernels.get(0), pack = kernels.get(1);
            OpenClBuffer a = ClPlan.buf(gemm, args, Arg.A), b = ClPlan.buf(gemm, args, Arg.B), c = ClPlan.buf(gemm, args, Arg.C);
            OpenClBuffer bias = d.bias() ? ClPlan.buf(gemm, args, Arg.BIAS) : null;
            for (int b0 = 0; b0 < d.batch(); b0 += chunk) {
                int count = Math.min(chunk, d.batch() - b0);
                pack.launch(stream, new long[] {panels, rowBlocks, count}, null, d.n(), d.k(), b, sBp, sBj, d.strideB(),
                        b0 * d.strideB(), panelsBuf, packed);
                launch(gemm, stream, count == chunk ? full : rest, d, a, b0 * d.strideA(), panelsBuf, 0, 1, packed, 0,
                        c, b0 * d.strideC(), bias);
            }
        };
        return new ClPlan(d, name() + "-" + v.name(t), ks, body, scratch);
    }

    /** Sets {@code d}'s arguments on {@code kernel} and enqueues it; {@code bias} null when d has none. */
    static void enqueue(ClKernel kernel, OpenClStream stream, long[][] launch, GemmDesc d,
                        OpenClBuffer a, OpenClBuffer b, OpenClBuffer c, OpenClBuffer bias) {
        long sBp = d.transB() == Transpose.N ? d.ldb() : 1, sBj = d.transB() == Transpose.N ? 1 : d.ldb();
        launch(kernel, stream, launch, d, a, 0, b, sBp, sBj, d.strideB(), 0, c, 0, bias);
    }

    /** The GEMM kernel's arguments with B's strides and the element offsets given (a packed B has its own). */
    private static void launch(ClKernel kernel, OpenClStream stream, long[][] launch, GemmDesc d, OpenClBuffer a, long offA,
                               OpenClBuffer b, long sBp, long sBj, long strideB, long offB, OpenClBuffer c, long offC, OpenClBuffer bias) {
        long sAi = d.transA() == Transpose.N ? d.lda() : 1, sAp = d.transA() == Transpose.N ? 1 : d.lda();
        boolean f64 = d.dtype() == DType.F64;
        Object alpha = f64 ? (Object) d.alpha() : (Object) (float) d.alpha(), beta = f64 ? (Object) d.beta() : (Object) (float) d.beta();
        kernel.launch(stream, launch[0], launch[1], d.m(), d.n(), d.k(),
                a, sAi, sAp, d.strideA(),
                b, sBp, sBj, strideB,
                c, (long) d.ldc(), d.strideC(),
                alpha, beta, d.beta() == 0 ? 1 : 0,
                // Without a bias the kernel never reads the argument, but OpenCL wants a valid cl_mem.
                bias != null ? bias : c, bias != null ? 1 : 0, d.activation().ordinal(), offA, offB, offC);
    }
}
