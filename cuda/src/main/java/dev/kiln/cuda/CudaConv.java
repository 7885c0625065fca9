package dev.kiln.cuda;

import dev.kiln.kernels.spi.ConvGeometry;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * Direct convolution ({@code conv.cu}): every pass, regular and transposed, any stride, padding, dilation and
 * groups (depthwise included), bias and bias gradient; 1D is h = 1.
 *
 * <p>As in the reference, each descriptor is one regular convolution between a wide tensor X and a narrow
 * tensor Y: regular X = src, Y = dst; transposed X = dst (k channels, p x q), Y = src (c channels, h x w).
 * Regular forward is fwd(X, W), backward-data data(Y, W), backward-weights weights(X, Y); a transposed
 * convolution swaps fwd and data. The bias belongs to dst's k channels, so whichever map produces dst adds
 * it, and its gradient sums DIFF_DST. Every output element has one owning thread: no atomics, the same
 * result on every run. The channel tile (8, 4 or 1 channels per thread) follows the channels per group, so
 * a depthwise convolution does not compute seven discarded channels. Backward-weights runs a block per
 * (channel tile, weight element) whose threads split the n * p * q positions, combined by a fixed tree.
 */
final class CudaConv extends CudaKernel {
    /** Threads per block along the positions; smaller for small planes (whole warps). */
    static final int POSITION_THREADS = 128;
    /** BIAS_GRAD_THREADS in conv.cu. */
    static final int BIAS_GRAD_THREADS = 128;
    static final int MAX_GRID_YZ = 65535;
    /** WEIGHT_THREADS in conv.cu: the weights kernel's block, which its shared-memory tree is sized for. */
    static final int WEIGHT_THREADS = 128;
    /** Blocks of the weights kernel at most; it loops over the remaining jobs. */
    static final int MAX_WEIGHT_BLOCKS = 1 << 20;

    /** Shared memory of conv_weights_T: T sums per thread, for the tree. */
    static int weightSharedBytes(int tile) { return tile * WEIGHT_THREADS * Float.BYTES; }

    CudaConv(CudaDevice device) { super(device, "cuda-conv-direct", OpKind.CONV); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof ConvDesc d)) return Support.no("not a convolution descriptor: " + desc.opName());
        Support f32 = F32Only.check("cuda-conv-direct", d);
        if (!f32.ok()) return f32;
        long most = Math.max(Math.max(d.srcCount(), d.dstCount()), d.weightCount());
        if (most > Integer.MAX_VALUE)
            return Support.no("cuda-conv-direct: tensors above 2^31-1 elements are not supported (largest has " + most + ")");
        return Support.YES;
    }



    /** The widest tile that does not waste most of itself on {@code channels} channels per group. */
    static int tile(int channels) { return channels >= 8 ? 8 : channels >= 4 ? 4 : 1; }

    /** The kernel of a map with its tile, and its launch: grid (gx, gy, gz) of {@code threads}-thread blocks. */
    record Launch(String entry, int gx, int gy, int gz, int threads) {}

    static Launch launch(ConvDesc d) {
        ConvGeometry g = ConvGeometry.of(d);
        ConvGeometry.Map map = ConvGeometry.map(d);
        int perGroup = map == ConvGeometry.Map.DATA ? g.cx() / g.groups() : g.cy() / g.groups();
        int tile = tile(perGroup);
        long tiles = (long) g.groups() * Math.ceilDiv(perGroup, tile);
        if (map == ConvGeometry.Map.WEIGHTS) {
            // A block per (channel tile, weight element), its threads splitting the positions (see conv.cu).
            long jobs = tiles * (g.cx() / g.groups()) * g.r() * g.s();
            return new Launch("conv_weights_" + tile, (int) Math.min(jobs, MAX_WEIGHT_BLOCKS), 1, 1, WEIGHT_THREADS);
        }
        long extent = map == ConvGeometry.Map.FWD ? (long) g.hy() * g.wy() : (long) g.hx() * g.wx();
        // Whole warps, no more than the extent needs rounded up to a warp.
        int threads = (int) Math.min(POSITION_THREADS, Math.ceilDiv(extent, 32) * 32);
        String entry = (map == ConvGeometry.Map.FWD ? "conv_fwd_" : "conv_data_") + tile;
        // x runs over positions, y over channel tiles, z over images; the kernel loops past y and z limits.
        return new Launch(entry, (int) Math.ceilDiv(extent, threads), (int) Math.min(tiles, MAX_GRID_YZ),
                Math.min(g.n(), MAX_GRID_YZ), threads);
    }

    /** Blocks of {@link #BIAS_GRAD_THREADS} for the bias gradient: one per channel up to the grid limit (the kernel loops). */
    static int biasGradBlocks(ConvDesc d) { return Math.min(d.k(), MAX_GRID_YZ); }

    @Override public Plan plan(OpDesc desc) {
        ConvDesc d = (ConvDesc) desc;
        assert check(d).ok() : check(d).reason();
        ConvGeometry g = ConvGeometry.of(d);
        Object[] geom = g.args();
        Launch l = launch(d);
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.CONV, l.entry());
        boolean biasGrad = d.pass() == ConvPass.BACKWARD_WEIGHTS && d.bias();
        CudaModules.Kernel biasKernel = biasGrad ? device.modules().kernel(DeviceCode.Family.CONV, DeviceCode.CONV_BIAS_GRAD) : null;
        boolean t = d.transposed();
        return plan(d, (stream, args) -> {
            CudaStream s = stream(stream, d);
            switch (d.pass()) {
                case FORWARD -> kernel.launch(d.opName(), s, l.gx(), l.gy(), l.gz(), l.threads(), CudaBroadcast.cat(geom,
                        buffer(args, Arg.SRC, d), buffer(args, Arg.WEIGHTS, d), d.bias() ? buffer(args, Arg.BIAS, d) : null,
                        buffer(args, Arg.DST, d)));
                case BACKWARD_DATA -> kernel.launch(d.opName(), s, l.gx(), l.gy(), l.gz(), l.threads(), CudaBroadcast.cat(geom,
                        buffer(args, Arg.DIFF_DST, d), buffer(args, Arg.WEIGHTS, d), null, buffer(args, Arg.DIFF_SRC, d)));
                case BACKWARD_WEIGHTS -> {
                    CudaBuffer src = buffer(args, Arg.SRC, d), dy = buffer(args, Arg.DIFF_DST, d);
                    // weights(X, Y): regular X = src, Y = dy; transposed X = dy, Y = src.
                    kernel.launch(d.opName(), s, l.gx(), l.gy(), l.gz(), l.threads(), CudaBroadcast.cat(geom,
                            t ? dy : src, t ? src : dy, buffer(args, Arg.DIFF_WEIGHTS, d)));
                    if (biasKernel != null)
                        biasKernel.launch(d.opName(), s, biasGradBlocks(d), 1, 1, BIAS_GRAD_THREADS,
                                dy, buffer(args, Arg.DIFF_BIAS, d), d.n(), d.k(), d.p() * d.q());
                }
            }
        });
    }
}
