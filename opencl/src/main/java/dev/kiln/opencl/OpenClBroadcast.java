package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.spi.BroadcastFold;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;


/**
 * Binary ops with general numpy broadcasting, forward and backward (broadcast.cl); listed after the
 * same-shape kernels, which are cheaper when no operand is broadcast. The host folds the shapes first:
 * size-1 result dimensions are dropped and neighbours that both operands walk contiguously (or both skip)
 * are merged, so e.g. [8,33,65] with [33,1] becomes a 3D problem and [2,1,3] with [2,5,3] a 3D one. Up to
 * {@value #RANK} folded dimensions are supported; more is declined with the folded shape. The backward pass
 * gives each gradient element one work-item that sums over its broadcast dimensions: deterministic.
 */
final class OpenClBroadcast implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("broadcast.cl");
    static final int RANK = 6;

    private final OpenClDevice device;

    OpenClBroadcast(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-binary-broadcast"; }

    @Override public OpKind kind() { return OpKind.BINARY; }


    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof BinaryDesc d)) return Support.no("not a binary op");
        BroadcastFold f;
        try {
            f = BroadcastFold.of(d);
        } catch (ArithmeticException e) {
            return Support.no("opencl: a merged dimension of " + d.a() + " and " + d.b() + " exceeds 2^31-1");
        }
        if (f.dims().length > RANK)
            return Support.no("opencl: broadcasting " + d.a() + " with " + d.b() + " needs " + f.dims().length
                    + " dimensions after merging; the kernel takes at most " + RANK);
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        BinaryDesc d = (BinaryDesc) desc;
        Object[] geom = BroadcastFold.of(d).args(RANK);
        boolean fwd = d.pass() == Pass.FORWARD;
        int op = d.op().ordinal();
        ClKernel kernel = ClPlan.kernels(device, "broadcast.cl", SOURCE, fwd ? "broadcast_fwd" : "broadcast_bwd").getFirst();
        long countOut = d.out().count(), countA = d.a().count(), countB = d.b().count();
        long[][] lo, la, lb;
        try {
            lo = ClPlan.linear(kernel, Math.max(1, countOut), 64);
            la = ClPlan.linear(kernel, Math.max(1, countA), 64);
            lb = ClPlan.linear(kernel, Math.max(1, countB), 64);
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            OpenClBuffer a = ClPlan.buf(k, args, Arg.SRC), b = ClPlan.buf(k, args, Arg.SRC2);
            if (fwd) {
                if (countOut > 0) k.launch(stream, lo[0], lo[1], cat(new Object[] {a, b, ClPlan.buf(k, args, Arg.DST), countOut, op}, geom));
                return;
            }
            OpenClBuffer dy = ClPlan.buf(k, args, Arg.DIFF_DST);
            if (countA > 0) k.launch(stream, la[0], la[1], cat(new Object[] {a, b, dy, ClPlan.buf(k, args, Arg.DIFF_SRC), countA, op, 0}, geom));
            if (countB > 0) k.launch(stream, lb[0], lb[1], cat(new Object[] {a, b, dy, ClPlan.buf(k, args, Arg.DIFF_SRC2), countB, op, 1}, geom));
        });
    }

    private static Object[] cat(Object[] head, Object[] tail) {
        Object[] out = new Object[head.length + tail.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(tail, 0, out, head.length, tail.length);
        return out;
    }
}
