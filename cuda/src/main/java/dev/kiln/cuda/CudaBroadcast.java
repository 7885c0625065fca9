package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.spi.BroadcastFold;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.Arrays;

/**
 * Binary ops with general numpy broadcasting, forward and backward ({@code broadcast.cu}); listed after the
 * equal-shape kernels of {@link CudaElementwise}, which are cheaper when nothing is broadcast. The host folds
 * the shapes first: size-1 result dimensions are dropped and neighbours that both operands step over alike
 * (both contiguously, or both broadcast) are merged, so [8,33,65] with [33,1] becomes 3 dimensions and
 * [64,128] with [128] 2. Up to {@value #RANK} folded dimensions are taken; more is declined with the folded
 * rank. The backward pass gives each gradient element one thread that sums over its broadcast dimensions:
 * no atomics, the same result on every run.
 */
final class CudaBroadcast extends CudaKernel {
    /** BC_RANK in broadcast.cu. */
    static final int RANK = 6;

    CudaBroadcast(CudaDevice device) { super(device, "cuda-binary-broadcast", OpKind.BINARY); }


    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof BinaryDesc d)) return Support.no("not a binary descriptor: " + desc.opName());
        Support f32 = F32Only.check("cuda-binary-broadcast", d);
        if (!f32.ok()) return f32;
        if (d.out().count() == 0) return Support.YES;   // nothing is launched
        BroadcastFold f;
        try {
            f = BroadcastFold.of(d);
        } catch (ArithmeticException e) {
            return Support.no("cuda-binary-broadcast: a merged dimension of " + d.a() + " and " + d.b() + " exceeds 2^31-1");
        }
        if (f.dims().length > RANK)
            return Support.no("cuda-binary-broadcast: " + d.a() + " with " + d.b() + " needs " + f.dims().length
                    + " dimensions after merging; the kernel takes at most " + RANK);
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        BinaryDesc d = (BinaryDesc) desc;
        assert check(d).ok() : check(d).reason();
        long countOut = d.out().count(), countA = d.a().count(), countB = d.b().count();
        if (countOut == 0) return plan(d, (stream, args) -> {});
        Object[] geom = BroadcastFold.of(d).args(RANK);
        boolean fwd = d.pass() == Pass.FORWARD;
        int op = d.op().ordinal();
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.BROADCAST,
                fwd ? DeviceCode.BROADCAST_FWD : DeviceCode.BROADCAST_BWD);
        int bo = blocks(countOut, THREADS), ba = blocks(countA, THREADS), bb = blocks(countB, THREADS);
        return plan(d, (stream, args) -> {
            CudaStream s = stream(stream, d);
            CudaBuffer a = buffer(args, Arg.SRC, d), b = buffer(args, Arg.SRC2, d);
            if (fwd) {
                kernel.launch(d.opName(), s, bo, 1, 1, THREADS, cat(geom, a, b, buffer(args, Arg.DST, d), countOut, op));
                return;
            }
            CudaBuffer dy = buffer(args, Arg.DIFF_DST, d);
            kernel.launch(d.opName(), s, ba, 1, 1, THREADS, cat(geom, a, b, dy, buffer(args, Arg.DIFF_SRC, d), countA, op, 0));
            kernel.launch(d.opName(), s, bb, 1, 1, THREADS, cat(geom, a, b, dy, buffer(args, Arg.DIFF_SRC2, d), countB, op, 1));
        });
    }

    /** {@code head} followed by {@code tail}: the kernel's leading arguments, then the folded geometry. */
    static Object[] cat(Object[] tail, Object... head) {
        Object[] out = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, out, head.length, tail.length);
        return out;
    }
}
