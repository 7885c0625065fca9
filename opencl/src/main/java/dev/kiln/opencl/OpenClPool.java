package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Max and average pooling, forward and backward (pool.cl). Forward runs one work-item per output; backward
 * one per input element, gathering from the windows that cover it, so it needs no atomics and is
 * deterministic for any window and stride. INDICES are the reference's: flat y*w+x within the plane, the
 * first maximum on ties, never a padding position.
 */
final class OpenClPool implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("pool.cl");

    private final OpenClDevice device;

    OpenClPool(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-pool"; }

    @Override public OpKind kind() { return OpKind.POOL; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof PoolDesc d)) return Support.no("not a pooling op");
        if (!d.indices() && d.pool() == PoolKind.MAX)
            return Support.no("opencl: max pooling without indices is not implemented (the kernel always writes them)");
        if ((long) d.n() * d.c() > Integer.MAX_VALUE)
            return Support.no("opencl: pooling over more than 2^31-1 planes is not supported (n*c=" + (long) d.n() * d.c() + ")");
        if ((long) d.h() * d.w() > Integer.MAX_VALUE)
            return Support.no("opencl: pooling planes above 2^31-1 elements are not supported (" + d.h() + "x" + d.w() + ")");
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        PoolDesc d = (PoolDesc) desc;
        boolean fwd = d.pass() == Pass.FORWARD, max = d.pool() == PoolKind.MAX;
        String fn = "pool_" + (max ? "max" : "avg") + (fwd ? "_fwd" : "_bwd");
        ClKernel kernel = ClPlan.kernels(device, "pool.cl", SOURCE, fn).getFirst();
        long[][] launch;
        try {
            launch = ClPlan.linear(kernel, fwd ? d.dstCount() : d.srcCount(), 64);
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        int planes = d.n() * d.c();
        Object[] geom = {planes, d.h(), d.w(), d.p(), d.q(), d.kh(), d.kw(), d.strideH(), d.strideW(), d.padH(), d.padW()};
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            List<Object> a = new ArrayList<>(16);
            if (fwd) {
                a.add(ClPlan.buf(k, args, Arg.SRC));
                a.add(ClPlan.buf(k, args, Arg.DST));
                if (max) a.add(ClPlan.buf(k, args, Arg.INDICES));
            } else {
                a.add(ClPlan.buf(k, args, Arg.DIFF_DST));
                if (max) a.add(ClPlan.buf(k, args, Arg.INDICES));
                a.add(ClPlan.buf(k, args, Arg.DIFF_SRC));
            }
            a.addAll(List.of(geom));
            if (!max) a.add(d.countPadding() ? 1 : 0);
            k.launch(stream, launch[0], launch[1], a.toArray());
        });
    }
}
