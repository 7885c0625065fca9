package dev.kiln.opencl;

import dev.kiln.kernels.spi.ConvGeometry;
import dev.kiln.kernels.spi.ConvGeometry.Map;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Direct convolution (conv.cl), every pass, regular and transposed, any stride, padding, dilation and
 * groups (depthwise too), bias and bias gradient; 1D is h = 1.
 *
 * <p>As in the reference, each descriptor is one regular convolution between a wide tensor X and a narrow
 * tensor Y: regular X = src, Y = dst; transposed X = dst (k channels, p x q), Y = src (c channels, h x w).
 * Regular forward is fwd(X, W), backward-data is data(Y, W), backward-weights weights(X, Y); a transposed
 * convolution swaps fwd and data. The bias always belongs to dst's k channels, so it is added by whichever
 * map produces dst, and its gradient sums DIFF_DST. Nothing uses atomics: every output element has one
 * owning work-item, so results are the same on every run.
 *
 * <p>The channel tile (8, 4 or 1 channels per work-item) is chosen from the channels per group, so a
 * depthwise convolution does not compute seven discarded channels.
 */
final class OpenClConv implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("conv.cl");
    /** Positions per work-group along dimension 0. */
    private static final long LOCAL = 64;

    private final OpenClDevice device;

    OpenClConv(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-conv-direct"; }

    @Override public OpKind kind() { return OpKind.CONV; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof ConvDesc d)) return Support.no("not a convolution");
        long most = Math.max(Math.max(d.srcCount(), d.dstCount()), d.weightCount());
        if (most > Integer.MAX_VALUE)
            return Support.no("opencl: conv tensors above 2^31-1 elements are not supported (largest has " + most + ")");
        return Support.YES;
    }


    /** The widest tile that does not waste most of itself on {@code channels} channels per group. */
    static int tile(int channels) { return channels >= 8 ? 8 : channels >= 4 ? 4 : 1; }

    @Override public Plan plan(OpDesc desc) {
        ConvDesc d = (ConvDesc) desc;
        ConvGeometry g = ConvGeometry.of(d);
        Map map = ConvGeometry.map(d);
        int tile = tile(map == Map.DATA ? g.cx() / g.groups() : g.cy() / g.groups());
        String fn = switch (map) { case FWD -> "conv_fwd_"; case DATA -> "conv_data_"; case WEIGHTS -> "conv_weights_"; } + tile;
        List<String> names = new ArrayList<>(List.of(fn));
        boolean biasGrad = d.pass() == ConvDesc.ConvPass.BACKWARD_WEIGHTS && d.bias();
        if (biasGrad) names.add("conv_bias_grad");
        List<ClKernel> kernels = ClPlan.kernels(device, "conv.cl", SOURCE, names.toArray(String[]::new));
        long[] global, local;
        try {
            long l = Math.min(LOCAL, kernels.getFirst().maxWorkGroupSize());
            long extent = switch (map) {
                case FWD -> (long) g.hy() * g.wy();
                case DATA -> (long) g.hx() * g.wx();
                case WEIGHTS -> (long) (g.cx() / g.groups()) * g.r() * g.s();
            };
            int tiled = map == Map.DATA ? g.cx() / g.groups() : g.cy() / g.groups();
            l = Math.min(l, Long.highestOneBit(Math.max(1, extent - 1)) << 1); // small planes: no mostly-idle groups
            global = new long[] {Math.ceilDiv(extent, l) * l, (long) g.groups() * Math.ceilDiv(tiled, tile), map == Map.WEIGHTS ? 1 : g.n()};
            local = new long[] {l, 1, 1};
        } catch (RuntimeException e) {
            for (ClKernel k : kernels) k.close();
            throw e;
        }
        return new ClPlan(d, name(), kernels, (ks, stream, args) -> run(d, g, map, ks, stream, args, global, local));
    }

    private static void run(ConvDesc d, ConvGeometry g, Map map, List<ClKernel> ks, OpenClStream stream, Args args, long[] global, long[] local) {
        ClKernel k = ks.getFirst();
        boolean t = d.transposed();
        List<Object> a = new ArrayList<>(24);
        switch (d.pass()) {
            case FORWARD -> {
                OpenClBuffer src = ClPlan.buf(k, args, Arg.SRC), dst = ClPlan.buf(k, args, Arg.DST);
                // Without a bias the kernel never reads it, but OpenCL wants a valid cl_mem.
                OpenClBuffer bias = d.bias() ? ClPlan.buf(k, args, Arg.BIAS) : dst;
                a.addAll(List.of(src, ClPlan.buf(k, args, Arg.WEIGHTS), bias, d.bias() ? 1 : 0, dst));
            }
            case BACKWARD_DATA -> {
                OpenClBuffer dy = ClPlan.buf(k, args, Arg.DIFF_DST), dx = ClPlan.buf(k, args, Arg.DIFF_SRC);
                a.addAll(List.of(dy, ClPlan.buf(k, args, Arg.WEIGHTS), dx, 0, dx));
            }
            case BACKWARD_WEIGHTS -> {
                OpenClBuffer src = ClPlan.buf(k, args, Arg.SRC), dy = ClPlan.buf(k, args, Arg.DIFF_DST);
                // weights(X, Y): regular X = src, Y = dy; transposed X = dy, Y = src.
                a.addAll(List.of(t ? dy : src, t ? src : dy, ClPlan.buf(k, args, Arg.DIFF_WEIGHTS)));
            }
        }
        assert map != Map.WEIGHTS || d.pass() == ConvDesc.ConvPass.BACKWARD_WEIGHTS;
        a.addAll(List.of(g.args()));
        k.launch(stream, global, local, a.toArray());
        if (d.pass() == ConvDesc.ConvPass.BACKWARD_WEIGHTS && d.bias()) {
            ClKernel bk = ks.get(1);
            long[][] launch = ClPlan.linear(bk, d.k(), 64);
            bk.launch(stream, launch[0], launch[1], ClPlan.buf(bk, args, Arg.DIFF_DST), ClPlan.buf(bk, args, Arg.DIFF_BIAS),
                    d.n(), d.k(), d.p() * d.q());
        }
    }
}
