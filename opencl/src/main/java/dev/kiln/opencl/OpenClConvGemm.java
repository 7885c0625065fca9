package dev.kiln.opencl;

import dev.kiln.kernels.spi.ConvGeometry;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Convolution through the tuned GEMM (gemm.cl) and a device scratch buffer col (im2col.cl), one group:
 * the "fwd" map of {@link OpenClConv} is im2col then one GEMM batched over the images with the weights
 * shared, Y[b] = W col[b] (a regular forward, the bias added by a small third kernel, or a transposed
 * backward-data); the "data" map is col[b] = W^T Y[b] then a gathering col2im that also adds the bias (a
 * regular backward-data, or a transposed forward); backward-weights is one GEMM of depth n*hy*wy over Y
 * copied channels first and a transposed col (the batch sum happens inside the GEMM's k loop, so each dW
 * element has one owner; the bias gradient is conv.cl's). Grouped convolutions and problems whose scratch would exceed {@value #SCRATCH_MIB} MiB are declined with the reason and taken by the
 * direct kernels ({@link OpenClConv}), next in the device's list; so are forward and weights passes with
 * fewer than {@value #MIN_TAPS} taps per output (cx*r*s), where the direct kernels measured faster.
 *
 * <p>The scratch (cx*r*s * hy*wy floats per image, plus cy * hy*wy for backward-weights) holds as many
 * images as fit in {@value #SCRATCH_MIB} MiB; the batch is worked through in chunks of that many (the
 * weight gradient accumulating chunk after chunk with beta = 1, in a fixed order). It is allocated when
 * planning and released with the plan, so execution allocates nothing. Nothing is atomic: results are the
 * same on every run.
 */
final class OpenClConvGemm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("im2col.cl");
    static final long SCRATCH_MIB = 64;
    /** Below this GEMM depth (fwd map) or width (weights) the direct kernels win. */
    static final int MIN_TAPS = 64;

    private final OpenClDevice device;
    private final int minTaps;
    private final int maxChunk;

    OpenClConvGemm(OpenClDevice device) { this(device, MIN_TAPS, Integer.MAX_VALUE); }

    /**
     * With another tap threshold and at most {@code maxChunk} images per chunk; tests pass 1 and 2 to check
     * this path, chunking included, on every shape it can compute.
     */
    OpenClConvGemm(OpenClDevice device, int minTaps, int maxChunk) {
        this.device = device;
        this.minTaps = minTaps;
        this.maxChunk = maxChunk;
    }

    @Override public String name() { return "opencl-conv-im2col-gemm"; }

    @Override public OpKind kind() { return OpKind.CONV; }

    /** For forward and backward-data: true for the fwd map (Y from X), false for the data map (X from Y). */
    static boolean fwdMap(ConvDesc d) {
        return d.transposed() ? d.pass() == ConvPass.BACKWARD_DATA : d.pass() == ConvPass.FORWARD;
    }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof ConvDesc d)) return Support.no("not a convolution");
        if (d.groups() != 1) return Support.no("opencl im2col+gemm: one group only (groups=" + d.groups() + ")");
        ConvGeometry g = ConvGeometry.of(d);
        long taps = (long) g.cx() * g.r() * g.s();
        // Measured on POCL (OpenClConvSpeedTest): with 25 taps (1 channel, 5x5) forward and weights ran at
        // about half the direct kernels' speed, the GEMM being too shallow (forward) or too narrow (weights).
        if (taps < minTaps && (d.pass() == ConvPass.BACKWARD_WEIGHTS || fwdMap(d)))
            return Support.no("opencl im2col+gemm: cx*r*s=" + taps + " below " + minTaps + ", the direct kernel is faster");
        long bytes = perImage(d, g) * 4;
        if (bytes > SCRATCH_MIB << 20)
            return Support.no("opencl im2col+gemm: scratch of " + (bytes >> 20) + " MiB per image exceeds " + SCRATCH_MIB + " MiB");
        long depth = (long) g.n() * g.hy() * g.wy();
        if (taps > Integer.MAX_VALUE || depth > Integer.MAX_VALUE)
            return Support.no("opencl im2col+gemm: GEMM extents above 2^31-1 (" + taps + ", " + depth + ")");
        return Support.YES;
    }

    /** Scratch elements per image: col, plus the channels-first copy of Y (its own buffer) for backward-weights. */
    private static long perImage(ConvDesc d, ConvGeometry g) {
        long col = (long) g.cx() * g.r() * g.s() * g.hy() * g.wy();
        return d.pass() == ConvPass.BACKWARD_WEIGHTS ? col + (long) g.cy() * g.hy() * g.wy() : col;
    }

    private enum Map { FWD, DATA, WEIGHTS }

    /** Launch shapes for a chunk of {@code images}: [0] the col kernel's global, [1] its local, [2..3] the GEMM's. */
    private record Launches(long[] colGlobal, long[] colLocal, long[] gemmGlobal, long[] gemmLocal) {}

    @Override public Plan plan(OpDesc desc) {
        ConvDesc d = (ConvDesc) desc;
        ConvGeometry g = ConvGeometry.of(d);
        Map map = d.pass() == ConvPass.BACKWARD_WEIGHTS ? Map.WEIGHTS : fwdMap(d) ? Map.FWD : Map.DATA;
        boolean bias = d.bias() && d.pass() != ConvPass.BACKWARD_DATA;
        int rows = g.cx() * g.r() * g.s(), plane = g.hy() * g.wy();
        int chunk = (int) Math.min(Math.min(g.n(), maxChunk), (SCRATCH_MIB << 20) / 4 / perImage(d, g));
        // The device's untuned GEMM variant: conv shapes are many and small, not worth a tuning run each.
        GemmVariant gemm = GemmVariant.defaultFor(device);
        List<ClKernel> ks = new ArrayList<>(4);
        List<OpenClBuffer> scratch = new ArrayList<>(2);
        Launches full, rest;
        long[][] extra = null;
        try {
            ks.addAll(ClPlan.kernels(device, "im2col.cl", SOURCE, switch (map) {
                case FWD -> bias ? new String[] {"im2col", "bias_add"} : new String[] {"im2col"};
                case DATA -> new String[] {"col2im"};
                case WEIGHTS -> new String[] {"im2col", "channels_first"};
            }));
            ks.add(1, OpenClGemm.kernel(device, gemm, DType.F32));
            if (map == Map.WEIGHTS && bias) ks.add(ClPlan.kernels(device, "conv.cl", OpenClConv.SOURCE, "conv_bias_grad").getFirst());
            full = launches(map, g, ks, chunk, gemm);
            rest = g.n() % chunk == 0 ? full : launches(map, g, ks, g.n() % chunk, gemm);
            if (map == Map.FWD && bias) extra = ClPlan.linear(ks.get(2), d.dstCount(), 64);
            if (map == Map.WEIGHTS) extra = ClPlan.linear(ks.get(2), (long) chunk * g.cy() * plane, 64);
            scratch.add(device.allocate(DType.F32, (long) chunk * rows * plane));
            if (map == Map.WEIGHTS) scratch.add(device.allocate(DType.F32, (long) chunk * g.cy() * plane));
        } catch (RuntimeException e) {
            for (ClKernel k : ks) k.close();
            for (OpenClBuffer b : scratch) b.close();
            throw e;
        }
        long[][] second = extra;
        ClPlan.MultiBody body = (kernels, stream, args) -> {
            for (int b0 = 0; b0 < g.n(); b0 += chunk) {
                int images = Math.min(chunk, g.n() - b0);
                Launches l = images == chunk ? full : rest;
                switch (map) {
                    case FWD -> fwd(d, g, kernels, stream, args, scratch.getFirst(), b0, images, l);
                    case DATA -> data(d, g, kernels, stream, args, scratch.getFirst(), b0, images, l);
                    case WEIGHTS -> weights(d, g, kernels, stream, args, scratch, b0, images, l, second);
                }
            }
            if (map == Map.FWD && bias) {
                ClKernel add = kernels.get(2);
                OpenClBuffer y = ClPlan.buf(add, args, Arg.DST);
                add.launch(stream, second[0], second[1], y, ClPlan.buf(add, args, Arg.BIAS), d.dstCount(), d.k(), plane);
            }
            if (map == Map.WEIGHTS && bias) {
                ClKernel bk = kernels.get(3);
                long[][] launch = ClPlan.linear(bk, d.k(), 64);
                bk.launch(stream, launch[0], launch[1], ClPlan.buf(bk, args, Arg.DIFF_DST), ClPlan.buf(bk, args, Arg.DIFF_BIAS),
                        d.n(), d.k(), d.p() * d.q());
            }
        };
        return new ClPlan(d, name(), ks, body, scratch);
    }

    private static Launches launches(Map map, ConvGeometry g, List<ClKernel> ks, int images, GemmVariant variant) {
        int rows = g.cx() * g.r() * g.s(), plane = g.hy() * g.wy();
        int extent = map == Map.DATA ? g.hx() * g.wx() : plane;
        long l = Math.min(64, ks.getFirst().maxWorkGroupSize());
        l = Math.min(l, Long.highestOneBit(Math.max(1, extent - 1)) << 1);
        long[][] gemm = switch (map) {
            case FWD -> variant.launch(ks.get(1), DType.F32, g.cy(), plane, images);
            case DATA -> variant.launch(ks.get(1), DType.F32, rows, plane, images);
            case WEIGHTS -> variant.launch(ks.get(1), DType.F32, g.cy(), rows, 1);
        };
        return new Launches(new long[] {Math.ceilDiv(extent, l) * l, map == Map.DATA ? g.cx() : rows, images},
                new long[] {l, 1, 1}, gemm[0], gemm[1]);
    }

    private static Object[] geom(ConvGeometry g) {
        return new Object[] {g.cx(), g.hx(), g.wx(), g.hy(), g.wy(), g.r(), g.s(), g.sh(), g.sw(), g.ph(), g.pw(), g.dh(), g.dw()};
    }

    /** Images b0.. of Y = W col: X is SRC (regular forward) or DIFF_DST (transposed backward-data); Y is DST or DIFF_SRC. */
    private static void fwd(ConvDesc d, ConvGeometry g, List<ClKernel> kernels, OpenClStream stream, Args args,
                            OpenClBuffer col, int b0, int images, Launches l) {
        ClKernel im2col = kernels.get(0), mm = kernels.get(1);
        boolean f = d.pass() == ConvPass.FORWARD;
        OpenClBuffer x = ClPlan.buf(im2col, args, f ? Arg.SRC : Arg.DIFF_DST), y = ClPlan.buf(im2col, args, f ? Arg.DST : Arg.DIFF_SRC);
        int rows = g.cx() * g.r() * g.s(), plane = g.hy() * g.wy();
        im2col.launch(stream, l.colGlobal(), l.colLocal(),
                cat(new Object[] {x, (long) b0 * g.cx() * g.hx() * g.wx(), col, (long) rows * plane, (long) plane, 1L}, geom(g)));
        // Y[b] (cy x plane, ldc = plane) = W (cy x rows, shared: stride 0) * col[b] (rows x plane).
        mm.launch(stream, l.gemmGlobal(), l.gemmLocal(), g.cy(), plane, rows,
                ClPlan.buf(im2col, args, Arg.WEIGHTS), (long) rows, 1L, 0L, col, (long) plane, 1L, (long) rows * plane,
                y, (long) plane, (long) g.cy() * plane, 1f, 0f, 1, y, 0, 0, 0L, 0L, (long) b0 * g.cy() * plane);
    }

    /** Images b0.. of col = W^T Y, then X = col2im(col): Y is DIFF_DST (regular backward-data) or SRC (transposed forward). */
    private static void data(ConvDesc d, ConvGeometry g, List<ClKernel> kernels, OpenClStream stream, Args args,
                             OpenClBuffer col, int b0, int images, Launches l) {
        ClKernel col2im = kernels.get(0), mm = kernels.get(1);
        boolean f = d.pass() == ConvPass.FORWARD, bias = f && d.bias();
        OpenClBuffer y = ClPlan.buf(col2im, args, f ? Arg.SRC : Arg.DIFF_DST), x = ClPlan.buf(col2im, args, f ? Arg.DST : Arg.DIFF_SRC);
        int rows = g.cx() * g.r() * g.s(), plane = g.hy() * g.wy();
        // col[b] (rows x plane) = W^T (element [i][p] at w[p * rows + i], shared) * Y[b] (cy x plane).
        mm.launch(stream, l.gemmGlobal(), l.gemmLocal(), rows, plane, g.cy(),
                ClPlan.buf(col2im, args, Arg.WEIGHTS), 1L, (long) rows, 0L, y, (long) plane, 1L, (long) g.cy() * plane,
                col, (long) plane, (long) rows * plane, 1f, 0f, 1, col, 0, 0, 0L, (long) b0 * g.cy() * plane, 0L);
        OpenClBuffer b = bias ? ClPlan.buf(col2im, args, Arg.BIAS) : x;
        col2im.launch(stream, l.colGlobal(), l.colLocal(),
                cat(new Object[] {col, x, (long) b0 * g.cx() * g.hx() * g.wx(), b, bias ? 1 : 0}, geom(g)));
    }

    /**
     * Images b0.. of dW += Yt colT^T, one GEMM of depth images*plane: colT holds col[b][kk][e] at
     * (b plane + e) rows + kk, Yt is Y channels first. The first chunk overwrites (beta = 0, C never read),
     * later ones accumulate, always in the same order. Regular: X = SRC, Y = DIFF_DST; transposed the reverse.
     */
    private static void weights(ConvDesc d, ConvGeometry g, List<ClKernel> kernels, OpenClStream stream, Args args,
                                List<OpenClBuffer> scratch, int b0, int images, Launches l, long[][] copyLaunch) {
        ClKernel im2col = kernels.get(0), mm = kernels.get(1), copy = kernels.get(2);
        OpenClBuffer col = scratch.get(0), yt = scratch.get(1);
        int rows = g.cx() * g.r() * g.s(), plane = g.hy() * g.wy(), depth = images * plane;
        OpenClBuffer src = ClPlan.buf(im2col, args, Arg.SRC), dy = ClPlan.buf(im2col, args, Arg.DIFF_DST);
        OpenClBuffer x = d.transposed() ? dy : src, y = d.transposed() ? src : dy, dw = ClPlan.buf(im2col, args, Arg.DIFF_WEIGHTS);
        im2col.launch(stream, l.colGlobal(), l.colLocal(),
                cat(new Object[] {x, (long) b0 * g.cx() * g.hx() * g.wx(), col, (long) plane * rows, 1L, (long) rows}, geom(g)));
        long copyCount = (long) images * g.cy() * plane;
        copy.launch(stream, new long[] {Math.ceilDiv(copyCount, copyLaunch[1][0]) * copyLaunch[1][0]}, copyLaunch[1],
                y, (long) b0 * g.cy() * plane, yt, images, g.cy(), plane);
        boolean first = b0 == 0;
        mm.launch(stream, l.gemmGlobal(), l.gemmLocal(), g.cy(), rows, depth,
                yt, (long) depth, 1L, 0L, col, (long) rows, 1L, 0L,
                dw, (long) rows, 0L, 1f, first ? 0f : 1f, first ? 1 : 0, dw, 0, 0, 0L, 0L, 0L);
    }

    private static Object[] cat(Object[] head, Object[] tail) {
        Object[] out = new Object[head.length + tail.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(tail, 0, out, head.length, tail.length);
        return out;
    }
}
