package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/** Pixel shuffle and unshuffle ({@code pixel_shuffle.cu}): a permutation, one thread per element. */
final class CudaPixelShuffle extends CudaKernel {
    CudaPixelShuffle(CudaDevice device) { super(device, "cuda-pixel-shuffle", OpKind.PIXEL_SHUFFLE); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof PixelShuffleDesc d)) return Support.no("not a pixel shuffle descriptor: " + desc.opName());
        return F32Only.check("cuda-pixel-shuffle", d);
    }

    /** The kernel's (cs, hs, ws): the small-spatial side, whichever direction (see pixel_shuffle.cu). */
    static int[] smallSide(PixelShuffleDesc d) {
        int f = d.factor();
        return d.unshuffle() ? new int[] {d.c() * f * f, d.h() / f, d.w() / f} : new int[] {d.c(), d.h(), d.w()};
    }

    @Override public Plan plan(OpDesc desc) {
        PixelShuffleDesc d = (PixelShuffleDesc) desc;
        assert check(d).ok() : check(d).reason();
        int[] small = smallSide(d);
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.PIXEL_SHUFFLE, DeviceCode.PIXEL_SHUFFLE);
        int blocks = blocks(d.count(), THREADS);
        return plan(d, (stream, args) -> kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                buffer(args, Arg.SRC, d), buffer(args, Arg.DST, d), d.count(), small[0], small[1], small[2], d.factor(),
                d.unshuffle() ? 1 : 0));
    }
}
