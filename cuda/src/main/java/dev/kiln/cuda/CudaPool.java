package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Max and average pooling, forward and backward ({@code pool.cu}). Forward runs a thread per output; backward
 * a thread per input element, gathering from the windows that cover it: no atomics, deterministic for any
 * window and stride. INDICES are the reference's: flat y*w+x within the plane, the first maximum on ties,
 * never a padding position.
 */
final class CudaPool extends CudaKernel {
    CudaPool(CudaDevice device) { super(device, "cuda-pool", OpKind.POOL); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof PoolDesc d)) return Support.no("not a pooling descriptor: " + desc.opName());
        if (!d.indices() && d.pool() == PoolKind.MAX)
            return Support.no("cuda-pool: max pooling without indices is not implemented (the kernel always writes them)");
        Support f32 = F32Only.check("cuda-pool", d);
        if (!f32.ok()) return f32;
        if ((long) d.n() * d.c() > Integer.MAX_VALUE)
            return Support.no("cuda-pool: more than 2^31-1 planes are not supported (n*c=" + (long) d.n() * d.c() + ")");
        if ((long) d.h() * d.w() > Integer.MAX_VALUE)
            return Support.no("cuda-pool: planes above 2^31-1 elements are not supported (" + d.h() + "x" + d.w() + ")");
        return Support.YES;
    }

    static String entry(PoolDesc d) {
        return "pool_" + (d.pool() == PoolKind.MAX ? "max" : "avg") + (d.pass() == Pass.FORWARD ? "_fwd" : "_bwd");
    }

    @Override public Plan plan(OpDesc desc) {
        PoolDesc d = (PoolDesc) desc;
        assert check(d).ok() : check(d).reason();
        boolean fwd = d.pass() == Pass.FORWARD, max = d.pool() == PoolKind.MAX;
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.POOL, entry(d));
        int blocks = blocks(fwd ? d.dstCount() : d.srcCount(), THREADS);
        Object[] geom = {d.n() * d.c(), d.h(), d.w(), d.p(), d.q(), d.kh(), d.kw(), d.strideH(), d.strideW(), d.padH(), d.padW()};
        return plan(d, (stream, args) -> {
            List<Object> a = new ArrayList<>(16);
            if (fwd) {
                a.add(buffer(args, Arg.SRC, d));
                a.add(buffer(args, Arg.DST, d));
                if (max) a.add(buffer(args, Arg.INDICES, d));
            } else {
                a.add(buffer(args, Arg.DIFF_DST, d));
                if (max) a.add(buffer(args, Arg.INDICES, d));
                a.add(buffer(args, Arg.DIFF_SRC, d));
            }
            a.addAll(List.of(geom));
            if (!max) a.add(d.countPadding() ? 1 : 0);
            kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS, a.toArray());
        });
    }
}
