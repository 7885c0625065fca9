package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.VectorGemm;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Convolution, every pass, regular and transposed, as GEMMs ({@link ConvGeom} for the phrasing); depthwise
 * convolutions go to {@link VectorDepthwise}. Most shapes never build im2col: X is copied once into padded
 * phase planes in which every im2col row is a contiguous run ({@link ConvBand}), and the microkernels
 * ({@link ConvMicro}) read those runs in place. The three maps:
 * <ul>
 * <li>fwd (Y from X): 1x1 stride-1 unpadded ({@link #pointwise}): {@link ConvPointwise} (W packed once, one pass
 *     over image column blocks, X packed during its first use); 3x3
 *     stride-1 undilated with enough channels ({@link ConvWinograd#routes}): Winograd F(2x2, 3x3), 16 GEMMs on
 *     transformed tiles ({@link ConvWinograd}; its speed is quoted as the direct form's FLOPs over its time);
 *     shallow with enough channels (the stem): {@link ConvBandPacked} (B packed per sliver from the phase planes);
 *     usually {@link ConvBand} (B read from the phase planes, tiles written straight into Y); otherwise per
 *     (image, group, block of output columns) task, im2col into per-thread scratch, packed ({@link ConvGemm}).</li>
 * <li>data (X from Y): pointwise: {@link ConvPointwise} as the forward, W packed transposed; stride 1 with at least
 *     {@link #FLIP_MIN_CHANNELS} X channels per group: the forward map of the adjoint convolution
 *     ({@link #dataAsForward}, itself Winograd where that map routes there); else usually {@link ConvBandData}
 *     (col tiles added into X's phase planes); otherwise per (image, group) task, col = W_g^T . Y_g block by block,
 *     scattered (added) into X_g.</li>
 * <li>weights (W from X, Y): pointwise: one GEMM per image, in fixed groups of images (one task each) whose sums
 *     are added in group order; usually {@link
 *     ConvWeightGemm} (A read from the phase planes, B = dY transposed per band); with Y channels too few for
 *     its slivers, dot products of contiguous runs ({@link ConvBandWeights}); otherwise per (group, block of
 *     weight columns) task, the sum over images of Y_g . col^T in image order.</li>
 * </ul>
 * Regular: FORWARD = fwd, BACKWARD_DATA = data. Transposed: FORWARD = data (+ bias over k), BACKWARD_DATA
 * = fwd. BACKWARD_WEIGHTS = weights either way. Accumulation is f32 (FMA) over depth panels that depend on the
 * shape only. Every task and block is a function of the descriptor and the vector width only, and every sum
 * over images runs in a fixed order: results are bit-identical for any number of threads.
 */
public final class VectorConv {
    private VectorConv() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Target floats of one im2col block: col and its packed copy, 512 KiB together, stay within a 1 MiB L2. */
    private static final int BLOCK_FLOATS = 64 * 1024;
    /**
     * The data map runs as a forward map only with at least this many X channels per group: they are the rows
     * of its GEMM, and a first layer's 1 or 3 would fill a fraction of the microkernel's 6 (the col path's
     * rows are channels x taps).
     */
    private static final int FLIP_MIN_CHANNELS = 16;
    /** Weight-gradient column blocks per group: enough tasks for a few cores without repeating much packing. */
    private static final int WEIGHT_BLOCKS = 4;

    /** Every descriptor the reference takes (f32 NCHW, all passes, regular and transposed). */
    public static Support supports(ConvDesc d) {
        long col = (long) (d.transposed() ? d.k() / d.groups() : d.c() / d.groups()) * d.r() * d.s();
        if (col * Math.max((long) d.h() * d.w(), (long) d.p() * d.q()) > Integer.MAX_VALUE / 2)
            return Support.no("conv: one image's im2col (" + col + " rows) exceeds the scratch limit");
        return Support.YES;
    }

    /** Per-thread buffers, grown on demand and kept: no allocation per call once warm. */
    static final class Scratch {
        float[] col = new float[0], bp = new float[0], ap = new float[0], acc = new float[0], tile = new float[0];
        MemorySegment colSeg = MemorySegment.ofArray(col), accSeg = MemorySegment.ofArray(acc);

        Scratch ensure(int colFloats, int bpFloats, int apFloats, int accFloats, int tileFloats) {
            if (col.length < colFloats) colSeg = MemorySegment.ofArray(col = new float[colFloats]);
            if (bp.length < bpFloats) bp = new float[bpFloats];
            if (ap.length < apFloats) ap = new float[apFloats];
            if (acc.length < accFloats) accSeg = MemorySegment.ofArray(acc = new float[accFloats]);
            if (tile.length < tileFloats) tile = new float[tileFloats];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    /** The packed weights of one call, on the calling thread (tasks only read them). */
    private static final ThreadLocal<float[][]> PACKED_W = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    public static void run(Width w, ConvDesc d, Args a) {
        if (VectorDepthwise.supports(d)) {
            VectorDepthwise.run(w, d, a);
            return;
        }
        ConvGeom g = ConvGeom.of(d);
        boolean t = d.transposed();
        switch (d.pass()) {
            case FORWARD -> {
                MemorySegment bias = d.bias() ? a.host(Arg.BIAS) : null;
                if (t) data(w, g, a.host(Arg.SRC), a.host(Arg.WEIGHTS), a.host(Arg.DST), bias);
                else fwd(w, g, a.host(Arg.SRC), a.host(Arg.WEIGHTS), a.host(Arg.DST), bias);
            }
            case BACKWARD_DATA -> {
                if (t) fwd(w, g, a.host(Arg.DIFF_DST), a.host(Arg.WEIGHTS), a.host(Arg.DIFF_SRC), null);
                else data(w, g, a.host(Arg.DIFF_DST), a.host(Arg.WEIGHTS), a.host(Arg.DIFF_SRC), null);
            }
            case BACKWARD_WEIGHTS -> {
                MemorySegment dy = a.host(Arg.DIFF_DST), src = a.host(Arg.SRC);
                if (t) weights(w, g, dy, src, a.host(Arg.DIFF_WEIGHTS));
                else weights(w, g, src, dy, a.host(Arg.DIFF_WEIGHTS));
                if (d.bias()) biasGrad(w, d.n(), d.k(), d.p() * d.q(), dy, a.host(Arg.DIFF_BIAS));
            }
        }
    }

    /** Columns per im2col block: a multiple of nr near BLOCK_FLOATS / kdim, at most the whole plane. */
    private static int block(int kdim, int plane, int nr) {
        int nc = Math.max(nr, BLOCK_FLOATS / Math.max(1, kdim) / nr * nr);
        return Math.min(nc, Math.ceilDiv(plane, nr) * nr);
    }

    private static float[] packedWeights(int floats) {
        float[][] holder = PACKED_W.get();
        if (holder[0].length < floats) holder[0] = new float[floats];
        return holder[0];
    }

    /** Whether pointwise forwards take {@link ConvPointwise} (default) rather than the GEMM driver's batched product. */
    static boolean POINTWISE_OWN = !"false".equals(System.getProperty("kiln.conv.pointwiseOwn"));

    /** Y = fwd(X, W) (+ bias per Y channel). */
    static void fwd(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, MemorySegment y, MemorySegment bias) {
        if (pointwise(g) && POINTWISE_OWN) { // Y_b = W . X_b: W packed once, one pass over (image, column block)
            ConvPointwise.fwd(w, g, x, wt, y, bias);
            return;
        }
        if (pointwise(g)) { // the GEMM driver, batched over images (-Dkiln.conv.pointwiseOwn=false, for A/B runs)
            VectorGemm.run(w, GemmDesc.of(DType.F32, Transpose.N, Transpose.N, g.cy(), g.yPlane(), g.cx(), 1, 0)
                    .withBatch(g.n(), 0, (long) g.cx() * g.xPlane(), (long) g.cy() * g.yPlane()), wt, x, y, null);
            if (bias != null) addBias(w, g.n(), g.cy(), g.yPlane(), y, bias);
            return;
        }
        if (ConvWinograd.routes(g, w)) { // 3x3 stride 1 with enough channels: F(2x2, 3x3), 16 GEMMs
            ConvWinograd.fwd(w, g, x, wt, 0, y, bias);
            return;
        }
        if (ConvBandPacked.applies(g, w)) { // shallow, e.g. the 7x7/2 stem: B packed per sliver from the phase planes
            ConvBandPacked.fwd(w, g, x, wt, 0, y, bias);
            return;
        }
        if (ConvBand.forwardApplies(g)) { // im2col rows as contiguous runs of padded phase planes: no im2col buffer
            ConvBand.fwd(w, g, x, wt, 0, y, bias);
            return;
        }
        int kdim = g.kdim(), cyg = g.cyg(), plane = g.yPlane(), nr = ConvGemm.nr(w);
        int aStride = ConvGemm.packedA(cyg, kdim);
        float[] ap = packedWeights(aStride * g.groups());
        for (int grp = 0; grp < g.groups(); grp++)
            ConvGemm.packA(wt, (long) grp * cyg * kdim, kdim, false, cyg, kdim, ap, grp * aStride);
        int nc = block(kdim, plane, nr), blocks = Math.ceilDiv(plane, nc), perImage = g.groups() * blocks;
        CpuThreads.parallelFor(g.n() * perImage, task -> {
            int b = task / perImage, grp = task % perImage / blocks, j0 = task % blocks * nc, cols = Math.min(nc, plane - j0);
            Scratch s = SCRATCH.get().ensure(kdim * nc, ConvGemm.packedB(kdim, nc, nr), 0, 0, ConvGemm.MR * nr);
            g.im2col(x, g.xBase(b, grp), j0, cols, s.col);
            ConvGemm.packB(w, s.col, 0, cols, kdim, cols, s.bp);
            long yb = g.yBase(b, grp);
            ConvGemm.multiply(w, cyg, cols, kdim, ap, grp * aStride, s.bp, y, yb + j0, plane, false, s.tile);
            if (bias != null)
                for (int o = 0; o < cyg; o++)
                    addScalar(w, y, yb + (long) o * plane + j0, cols, bias.getAtIndex(F, (long) grp * cyg + o));
        });
    }

    /** X = data(Y, W) (+ bias per X channel: the transposed forward). */
    static void data(Width w, ConvGeom g, MemorySegment y, MemorySegment wt, MemorySegment x, MemorySegment bias) {
        if (pointwise(g) && POINTWISE_OWN) { // X_b = W^T . Y_b, as the forward: W^T packed once, one pass
            ConvPointwise.data(w, g, y, wt, x, bias);
            return;
        }
        if (pointwise(g)) { // X_b = W^T . Y_b through the GEMM driver (-Dkiln.conv.pointwiseOwn=false)
            VectorGemm.run(w, GemmDesc.of(DType.F32, Transpose.T, Transpose.N, g.cx(), g.xPlane(), g.cy(), 1, 0)
                    .withBatch(g.n(), 0, (long) g.cy() * g.yPlane(), (long) g.cx() * g.xPlane()), wt, y, x, null);
            if (bias != null) addBias(w, g.n(), g.cx(), g.xPlane(), x, bias);
            return;
        }
        ConvGeom flipped = g.adjointAsForward();
        if (flipped != null && g.cxg() >= FLIP_MIN_CHANNELS && ConvBand.forwardApplies(flipped)) {
            dataAsForward(w, g, flipped, y, wt, x, bias);
            return;
        }
        if (ConvBandData.applies(g, w)) { // strided: col tiles added straight into X's phase planes
            ConvBandData.data(w, g, y, wt, x, bias);
            return;
        }
        int kdim = g.kdim(), cyg = g.cyg(), plane = g.yPlane(), nr = ConvGemm.nr(w);
        int aStride = ConvGemm.packedA(kdim, cyg);
        float[] ap = packedWeights(aStride * g.groups());
        for (int grp = 0; grp < g.groups(); grp++) // W_g^T: element (crs, o) at o*kdim + crs
            ConvGemm.packA(wt, (long) grp * cyg * kdim, kdim, true, kdim, cyg, ap, grp * aStride);
        int nc = block(kdim, plane, nr), cxg = g.cxg(), xPlane = g.xPlane();
        CpuThreads.parallelFor(g.n() * g.groups(), task -> {
            int b = task / g.groups(), grp = task % g.groups();
            Scratch s = SCRATCH.get().ensure(kdim * nc, ConvGemm.packedB(cyg, nc, nr), 0, 0, ConvGemm.MR * nr);
            long xb = g.xBase(b, grp), yb = g.yBase(b, grp);
            x.asSlice(xb * 4, (long) cxg * xPlane * 4).fill((byte) 0);
            for (int j0 = 0; j0 < plane; j0 += nc) {
                int cols = Math.min(nc, plane - j0);
                ConvGemm.packB(w, y, yb + j0, plane, cyg, cols, s.bp);
                ConvGemm.multiply(w, kdim, cols, cyg, ap, grp * aStride, s.bp, s.colSeg, 0, cols, false, s.tile);
                g.col2imAdd(w, s.col, j0, cols, x, xb);
            }
            if (bias != null)
                for (int ci = 0; ci < cxg; ci++)
                    addScalar(w, x, xb + (long) ci * xPlane, xPlane, bias.getAtIndex(F, (long) grp * cxg + ci));
        });
    }

    /**
     * The data map of a stride-1 convolution as the forward map of {@code flipped} ({@link
     * ConvGeom#adjointAsForward}): Y is its input, X its output, and its weights are W's with the two channel
     * axes swapped per group and the taps turned by 180 degrees, gathered here once per call and packed.
     * No col buffer and no scatter-add: the same band path as the forward, at the same speed per FLOP.
     */
    private static void dataAsForward(Width w, ConvGeom g, ConvGeom flipped, MemorySegment y, MemorySegment wt, MemorySegment x,
                                      MemorySegment bias) {
        int cyg = g.cyg(), cxg = g.cxg(), r = g.r(), s = g.s(), taps = r * s, kdim = flipped.kdim();
        float[] turned = new float[g.groups() * cxg * kdim]; // weights-sized: small next to the product
        for (int grp = 0; grp < g.groups(); grp++)
            for (int ci = 0; ci < cxg; ci++)
                for (int o = 0; o < cyg; o++) {
                    long from = ((long) (grp * cyg + o) * cxg + ci) * taps;
                    int to = ((grp * cxg + ci) * cyg + o) * taps;
                    for (int t = 0; t < taps; t++) turned[to + taps - 1 - t] = wt.getAtIndex(F, from + t);
                }
        if (ConvWinograd.routes(flipped, w)) ConvWinograd.fwd(w, flipped, y, MemorySegment.ofArray(turned), 0, x, bias);
        else ConvBand.fwd(w, flipped, y, MemorySegment.ofArray(turned), 0, x, bias);
    }

    /**
     * W = weights(X, Y): per group, sum over images of Y_g . col^T, images in order. Tasks split the weight
     * columns (and, when that gives fewer than WEIGHT_BLOCKS tasks, the output channels), never the images.
     */
    static void weights(Width w, ConvGeom g, MemorySegment x, MemorySegment y, MemorySegment dw) {
        if (pointwise(g)) {
            pointwiseWeights(w, g, x, y, dw);
            return;
        }
        if (ConvWeightGemm.applies(g, w)) { // A straight from the band, B = dY transposed per band
            ConvWeightGemm.weights(w, g, x, y, dw);
            return;
        }
        if (ConvBandWeights.applies(g, w)) { // dot products of contiguous runs: no transposed packing
            ConvBandWeights.weights(w, g, x, y, dw);
            return;
        }
        // the 2-vector kernel: B here is im2col transposed, written lane by lane, and at 4 vectors (3x3 on 64
        // channels) the pass ran at 0.6x its rate (measured alternating in one process)
        int kdim = g.kdim(), cyg = g.cyg(), plane = g.yPlane(), nr = ConvGemm.narrowNr(w);
        int kb = Math.max(nr, Math.ceilDiv(Math.ceilDiv(kdim, WEIGHT_BLOCKS), nr) * nr), kBlocks = Math.ceilDiv(kdim, kb);
        int mSplit = Math.min(Math.ceilDiv(cyg, ConvGemm.MR), Math.ceilDiv(WEIGHT_BLOCKS, g.groups() * kBlocks));
        int mb = Math.ceilDiv(Math.ceilDiv(cyg, mSplit), ConvGemm.MR) * ConvGemm.MR, mBlocks = Math.ceilDiv(cyg, mb);
        int perGroup = kBlocks * mBlocks;
        CpuThreads.parallelFor(g.groups() * perGroup, task -> {
            int grp = task / perGroup, k0 = task % perGroup / mBlocks * kb, o0 = task % mBlocks * mb;
            int cols = Math.min(kb, kdim - k0), rows = Math.min(mb, cyg - o0);
            Scratch s = SCRATCH.get().ensure(0, ConvGemm.packedB(plane, kb, nr), ConvGemm.packedA(mb, plane), mb * cols,
                    ConvGemm.MR * nr);
            for (int b = 0; b < g.n(); b++) {
                ConvGemm.packA(y, g.yBase(b, grp) + (long) o0 * plane, plane, false, rows, plane, s.ap, 0);
                g.im2colPackedT(x, g.xBase(b, grp), k0, cols, nr, s.bp);
                ConvGemm.multiply(w, nr, rows, cols, plane, s.ap, 0, s.bp, s.accSeg, 0, cols, b > 0, s.tile);
            }
            for (int o = 0; o < rows; o++)
                MemorySegment.copy(s.acc, o * cols, dw, F, ((long) (grp * cyg + o0 + o) * kdim + k0) * 4, cols);
        });
    }

    /**
     * Whether {@code g} is a plain product per image (1x1 taps, stride 1, no padding, one group): then the GEMM
     * driver runs it, with its A and B packed once per image for all threads and its cache-derived blocking
     * (1x1 C256->K64 28x28: 1.4x the band path by thread CPU time, the band's copy of X and write-out of Y
     * taking a third of that path's time).
     */
    static boolean pointwise(ConvGeom g) {
        return g.r() == 1 && g.s() == 1 && g.sh() == 1 && g.sw() == 1 && g.ph() == 0 && g.pw() == 0 && g.groups() == 1
                && g.hx() == g.hy() && g.wx() == g.wy();
    }

    /** Images per task of {@link #pointwiseWeights}: a fixed split, so the sum's order does not depend on the threads. */
    private static final int WEIGHT_GROUP_IMAGES = 4;

    /**
     * dW of a {@link #pointwise} convolution: dW^T (cx x cy) = sum over images of X_b . Y_b^T. Images are taken in
     * fixed groups of {@link #WEIGHT_GROUP_IMAGES}, one task each (its GEMMs, in image order, on the task's thread
     * alone), and the groups' partial sums are added in group order: so two threads share the work (one GEMM per
     * image on the pool took 1.8x the forward's time per FLOP at 2 threads, a pack and a compute pass of ~4 blocks
     * each) and the result is the same for any thread count.
     */
    private static void pointwiseWeights(Width w, ConvGeom g, MemorySegment x, MemorySegment y, MemorySegment dw) {
        int cx = g.cx(), cy = g.cy(), plane = g.xPlane(), groups = Math.ceilDiv(g.n(), WEIGHT_GROUP_IMAGES);
        long partial = (long) cx * cy;
        try (Arena arena = Arena.ofShared()) { // weights-sized; off-heap like X and Y, see above
            MemorySegment ts = arena.allocate(partial * 4 * groups, 64);
            CpuThreads.parallelFor(groups, grp -> CpuThreads.onCallerOnly(() -> {
                MemorySegment t = ts.asSlice(grp * partial * 4, partial * 4);
                for (int b = grp * WEIGHT_GROUP_IMAGES, last = Math.min(g.n(), b + WEIGHT_GROUP_IMAGES); b < last; b++)
                    VectorGemm.run(w, GemmDesc.of(DType.F32, Transpose.N, Transpose.T, cx, cy, plane, 1,
                                    b == grp * WEIGHT_GROUP_IMAGES ? 0 : 1),
                            x.asSlice((long) b * cx * plane * 4, (long) cx * plane * 4),
                            y.asSlice((long) b * cy * plane * 4, (long) cy * plane * 4), t, null);
            }));
            for (int o = 0; o < cy; o++)
                for (int ci = 0; ci < cx; ci++) {
                    long e = (long) ci * cy + o;
                    float sum = ts.getAtIndex(F, e);
                    for (int grp = 1; grp < groups; grp++) sum += ts.getAtIndex(F, grp * partial + e);
                    dw.setAtIndex(F, (long) o * cx + ci, sum);
                }
        }
    }

    /** t[b][ch][..plane] += bias[ch]. */
    private static void addBias(Width w, int n, int channels, int plane, MemorySegment t, MemorySegment bias) {
        CpuThreads.parallelFor(n, b -> {
            for (int ch = 0; ch < channels; ch++)
                addScalar(w, t, ((long) b * channels + ch) * plane, plane, bias.getAtIndex(F, ch));
        });
    }

    /** DIFF_BIAS[ch] = sum over images and the plane of dy; per channel, images in order. */
    static void biasGrad(Width w, int n, int k, int plane, MemorySegment dy, MemorySegment db) {
        CpuThreads.parallelFor(k, ch -> {
            double sum = 0;
            for (int b = 0; b < n; b++) sum += sum(w, dy, ((long) b * k + ch) * plane, plane);
            db.setAtIndex(F, ch, (float) sum);
        });
    }

    /** The sum of count floats from element {@code at}, in vector lanes then a scalar tail. */
    static float sum(Width w, MemorySegment seg, long at, int count) {
        var sp = w.floats();
        int l = sp.length(), i = 0;
        FloatVector acc = FloatVector.zero(sp);
        for (; i <= count - l; i += l) acc = acc.add(FloatVector.fromMemorySegment(sp, seg, (at + i) * 4, NATIVE));
        float s = Lanes.sum(acc);
        for (; i < count; i++) s += seg.getAtIndex(F, at + i);
        return s;
    }


    /** seg[at .. at+count) += v. */
    static void addScalar(Width w, MemorySegment seg, long at, int count, float v) {
        var sp = w.floats();
        int l = sp.length(), i = 0;
        FloatVector bv = FloatVector.broadcast(sp, v);
        for (; i <= count - l; i += l) {
            long off = (at + i) * 4;
            FloatVector.fromMemorySegment(sp, seg, off, NATIVE).add(bv).intoMemorySegment(seg, off, NATIVE);
        }
        for (; i < count; i++) seg.setAtIndex(F, at + i, seg.getAtIndex(F, at + i) + v);
    }
}
