package dev.kiln.cuda;

import dev.kiln.kernels.spi.ConvGeometry;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Convolution as im2col + SGEMM ({@code im2col.cu} and {@code gemm.cu} through {@link CudaGemm#launch}), every
 * pass, regular and transposed, per group; the decomposition is {@link ConvGemmSteps}. Listed before the
 * direct kernels ({@link CudaConv}), it takes the dense convolutions where the GEMMs are big enough to pay:
 * at least {@value #MIN_TAPS} taps (cxg*r*s) and {@value #MIN_CHANNELS} output channels (cyg) per group. It
 * declines depthwise and other thin groups and tiny problems, with the reason, and the direct kernels take them.
 *
 * <p>The scratch col holds as many images as fit {@value #SCRATCH_MIB} MiB (a problem needing more per image
 * is declined); it comes from the device's caching allocator when planning, after the kernels are found (so
 * a failed lookup holds nothing), and goes back when the plan closes. Bias: a forward adds it after its GEMMs
 * ({@code conv_bias_add}), a transposed forward in col2im; the bias gradient is conv.cu's kernel. Nothing is
 * atomic and the weight gradient sums the images in a fixed order: the same result on every run.
 */
final class CudaConvGemm extends CudaKernel {
    static final String NAME = "cuda-conv-im2col-gemm";
    /** Below this GEMM depth (cxg*r*s) the direct kernel's register tiles beat a thin GEMM. */
    static final int MIN_TAPS = 16;
    /** Below this many output channels per group the GEMM tile (128 rows) is mostly idle. */
    static final int MIN_CHANNELS = 16;
    static final long SCRATCH_MIB = 64;
    static final long SCRATCH_ELEMENTS = (SCRATCH_MIB << 20) / Float.BYTES;
    /** The most rows gemm.cu takes (grid y of 128-row tiles). */
    private static final long MAX_GEMM_ROWS = 128L * 65535;

    private final int maxChunk;

    CudaConvGemm(CudaDevice device) { this(device, Integer.MAX_VALUE); }

    /** At most {@code maxChunk} images per chunk (tests use small values to exercise chunking). */
    CudaConvGemm(CudaDevice device, int maxChunk) {
        super(device, NAME, OpKind.CONV);
        this.maxChunk = maxChunk;
    }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    /** The support answer, which depends on the descriptor only. */
    static Support check(OpDesc desc) {
        if (!(desc instanceof ConvDesc d)) return Support.no("not a convolution descriptor: " + desc.opName());
        Support direct = CudaConv.check(d);   // f32, int-sized tensors
        if (!direct.ok()) return Support.no(direct.reason().replace("cuda-conv-direct", NAME));
        ConvGeometry g = ConvGeometry.of(d);
        long taps = (long) g.cx() / g.groups() * g.r() * g.s(), channels = g.cy() / g.groups();
        if (taps < MIN_TAPS || channels < MIN_CHANNELS)
            return Support.no(NAME + ": per group cx*r*s=" + taps + " and cy=" + channels + " (need >= " + MIN_TAPS
                    + " and >= " + MIN_CHANNELS + "); the direct kernel is better there (depthwise, thin or tiny)");
        long perImage = ConvGemmSteps.colPerImage(g);
        if (perImage > SCRATCH_ELEMENTS)
            return Support.no(NAME + ": scratch of " + (perImage * Float.BYTES >> 20) + " MiB per image exceeds " + SCRATCH_MIB + " MiB");
        if (ConvGemmSteps.rows(g) > MAX_GEMM_ROWS)
            return Support.no(NAME + ": cx*r*s=" + ConvGemmSteps.rows(g) + " above the GEMM's " + MAX_GEMM_ROWS + " rows");
        return Support.YES;
    }

    /** The scratch elements a plan of {@code d} allocates: {@link #chunk} images of col. */
    static long scratchElements(ConvDesc d, int maxChunk) {
        ConvGeometry g = ConvGeometry.of(d);
        return chunk(d, maxChunk) * ConvGemmSteps.colPerImage(g);
    }

    static int chunk(ConvDesc d, int maxChunk) { return ConvGemmSteps.chunk(ConvGeometry.of(d), SCRATCH_ELEMENTS, maxChunk); }

    /** Which operands play X and Y (see {@link CudaConv}) and which is the weights tensor, for a pass. */
    static Map<ConvGemmSteps.Operand, Arg> operands(ConvDesc d) {
        Map<ConvGemmSteps.Operand, Arg> m = new EnumMap<>(ConvGemmSteps.Operand.class);
        boolean t = d.transposed();
        switch (d.pass()) {
            case FORWARD -> { m.put(ConvGemmSteps.Operand.X, t ? Arg.DST : Arg.SRC); m.put(ConvGemmSteps.Operand.Y, t ? Arg.SRC : Arg.DST); }
            case BACKWARD_DATA -> { m.put(ConvGemmSteps.Operand.X, t ? Arg.DIFF_DST : Arg.DIFF_SRC); m.put(ConvGemmSteps.Operand.Y, t ? Arg.DIFF_SRC : Arg.DIFF_DST); }
            case BACKWARD_WEIGHTS -> { m.put(ConvGemmSteps.Operand.X, t ? Arg.DIFF_DST : Arg.SRC); m.put(ConvGemmSteps.Operand.Y, t ? Arg.SRC : Arg.DIFF_DST); }
        }
        m.put(ConvGemmSteps.Operand.W, d.pass() == ConvPass.BACKWARD_WEIGHTS ? Arg.DIFF_WEIGHTS : Arg.WEIGHTS);
        return m;
    }

    @Override public Plan plan(OpDesc desc) {
        ConvDesc d = (ConvDesc) desc;
        assert check(d).ok() : check(d).reason();
        ConvGeometry g = ConvGeometry.of(d);
        int chunk = chunk(d, maxChunk);
        List<ConvGemmSteps.Step> steps = ConvGemmSteps.steps(d, chunk);
        Map<ConvGemmSteps.Operand, Arg> roles = operands(d);
        // Kernels first: a failed lookup then holds no scratch.
        CudaModules modules = device.modules();
        CudaModules.Kernel im2col = modules.kernel(DeviceCode.Family.IM2COL, DeviceCode.IM2COL_ENTRY);
        CudaModules.Kernel col2im = modules.kernel(DeviceCode.Family.IM2COL, DeviceCode.COL2IM);
        Map<String, CudaModules.Kernel> gemms = new java.util.HashMap<>();
        for (ConvGemmSteps.Step s : steps)
            if (s instanceof ConvGemmSteps.Gemm m) {
                String entry = DeviceCode.gemmEntry(m.transA() ? Transpose.T : Transpose.N, m.transB() ? Transpose.T : Transpose.N);
                gemms.computeIfAbsent(entry, e -> modules.kernel(DeviceCode.Family.GEMM, e));
            }
        boolean fwdBias = d.bias() && d.pass() == ConvPass.FORWARD;
        boolean biasGrad = d.bias() && d.pass() == ConvPass.BACKWARD_WEIGHTS;
        CudaModules.Kernel biasAdd = fwdBias && !d.transposed() ? modules.kernel(DeviceCode.Family.IM2COL, DeviceCode.CONV_BIAS_ADD) : null;
        CudaModules.Kernel biasGradKernel = biasGrad ? modules.kernel(DeviceCode.Family.CONV, DeviceCode.CONV_BIAS_GRAD) : null;
        CudaBuffer col = (CudaBuffer) device.allocate(DType.F32, scratchElements(d, maxChunk));
        Object[] geom = g.args();
        int plane = d.p() * d.q();
        String op = d.opName();
        Body body = (s, args) -> {
            CudaStream stream = stream(s, d);
            Map<ConvGemmSteps.Operand, CudaBuffer> bufs = new EnumMap<>(ConvGemmSteps.Operand.class);
            for (var e : roles.entrySet()) bufs.put(e.getKey(), buffer(args, e.getValue(), d));
            bufs.put(ConvGemmSteps.Operand.COL, col);
            for (ConvGemmSteps.Step step : steps) {
                switch (step) {
                    case ConvGemmSteps.Im2col c -> {
                        long work = (long) c.images() * ConvGemmSteps.colPerImage(g);
                        im2col.launch(op, stream, blocks(work, THREADS), 1, 1, THREADS, CudaBroadcast.cat(
                                new Object[] {bufs.get(ConvGemmSteps.Operand.X), c.xOffset(g), col, c.images()}, geom));
                    }
                    case ConvGemmSteps.Col2im c -> {
                        long work = (long) c.images() * g.cx() * g.hx() * g.wx();
                        // Only a transposed forward reaches col2im with a bias (X is then dst, whose k channels it belongs to).
                        Object bias = fwdBias ? buffer(args, Arg.BIAS, d) : null;
                        col2im.launch(op, stream, blocks(work, THREADS), 1, 1, THREADS, CudaBroadcast.cat(
                                new Object[] {col, bufs.get(ConvGemmSteps.Operand.X), c.xOffset(g), bias, c.images()}, geom));
                    }
                    case ConvGemmSteps.Gemm m -> CudaGemm.launch(
                            gemms.get(DeviceCode.gemmEntry(m.transA() ? Transpose.T : Transpose.N, m.transB() ? Transpose.T : Transpose.N)),
                            op, stream, m.m(), m.n(), m.k(),
                            at(bufs, m.a()), m.lda(), m.strideA(), at(bufs, m.b()), m.ldb(), m.strideB(),
                            at(bufs, m.c()), m.ldc(), m.strideC(), 1f, m.beta(), null, Activation.NONE.ordinal(), m.batch(), m.flags());
                }
            }
            if (biasAdd != null)
                biasAdd.launch(op, stream, blocks(d.dstCount(), THREADS), 1, 1, THREADS,
                        buffer(args, Arg.DST, d), buffer(args, Arg.BIAS, d), d.dstCount(), d.k(), plane);
            if (biasGradKernel != null)
                biasGradKernel.launch(op, stream, CudaConv.biasGradBlocks(d), 1, 1, CudaConv.BIAS_GRAD_THREADS,
                        buffer(args, Arg.DIFF_DST, d), buffer(args, Arg.DIFF_BIAS, d), d.n(), d.k(), plane);
        };
        return new ScratchPlan(d, name(), body, col);
    }

    private static CudaModules.At at(Map<ConvGemmSteps.Operand, CudaBuffer> bufs, ConvGemmSteps.Ref ref) {
        return new CudaModules.At(bufs.get(ref.operand()), ref.offset());
    }

    @FunctionalInterface
    private interface Body {
        void run(Stream stream, Args args);
    }

    /** A plan that owns its scratch buffer: closing returns it to the caching allocator (twice is harmless). */
    private record ScratchPlan(OpDesc desc, String implementation, Body body, CudaBuffer scratch) implements Plan {
        @Override public void execute(Stream stream, Args args) { body.run(stream, args); }

        @Override public void close() { scratch.close(); }
    }
}
