package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/** Pixel shuffle and unshuffle (pixel_shuffle.cl): a permutation, one work-item per element. */
final class OpenClPixelShuffle implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("pixel_shuffle.cl");

    private final OpenClDevice device;

    OpenClPixelShuffle(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-pixel-shuffle"; }

    @Override public OpKind kind() { return OpKind.PIXEL_SHUFFLE; }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof PixelShuffleDesc ? Support.YES : Support.no("not a pixel shuffle");
    }

    @Override public Plan plan(OpDesc desc) {
        PixelShuffleDesc d = (PixelShuffleDesc) desc;
        int f = d.factor();
        // The small-spatial side (see pixel_shuffle.cl): cs channels of hs x ws.
        int cs = d.unshuffle() ? d.c() * f * f : d.c(), hs = d.unshuffle() ? d.h() / f : d.h(), ws = d.unshuffle() ? d.w() / f : d.w();
        ClKernel kernel = ClPlan.kernels(device, "pixel_shuffle.cl", SOURCE, "pixel_shuffle").getFirst();
        long[][] launch;
        try {
            launch = ClPlan.linear(kernel, d.count(), 64);
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        return new ClPlan(d, name(), kernel, (k, stream, args) -> k.launch(stream, launch[0], launch[1],
                ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.DST), d.count(), cs, hs, ws, f, d.unshuffle() ? 1 : 0));
    }
}
