package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.List;

/**
 * Batch, layer and RMS norm (norm.cl): training forward (writes MEAN and RSTD), batch-norm inference and
 * backward. Training and backward run one work-group per statistic with a fixed-shape local-memory tree,
 * so they are deterministic; layer/RMS parameter gradients, which span the rows, take a second kernel with
 * one work-item per channel.
 */
final class OpenClNorm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("norm.cl");
    /** Must match NORM_WG in norm.cl (the kernels require exactly this work-group size). */
    static final int WG = 128;

    private final OpenClDevice device;

    OpenClNorm(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-norm"; }

    @Override public OpKind kind() { return OpKind.NORM; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof NormDesc d)) return Support.no("not a normalisation");
        long per = d.count() / d.stats();
        if (per > Integer.MAX_VALUE)
            return Support.no("opencl: norm statistics over more than 2^31-1 elements are not supported (" + per + ")");
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        NormDesc d = (NormDesc) desc;
        boolean batch = d.norm() == NormKind.BATCH, rms = d.norm() == NormKind.RMS;
        int per = (int) (d.count() / d.stats());
        int inner = batch ? d.spatial() : d.c();
        long outerStride = batch ? (long) d.c() * d.spatial() : 0, setStride = batch ? d.spatial() : d.c();
        Object[] set = {per, inner, outerStride, setStride, batch ? 1 : 0};
        long[] global = {(long) d.stats() * WG}, local = {WG};
        float eps = (float) d.eps();
        return switch (d.mode()) {
            case TRAINING -> new ClPlan(d, name(), kernel("norm_fwd_train", true), (k, stream, args) -> {
                OpenClBuffer y = ClPlan.buf(k, args, Arg.DST), rstd = ClPlan.buf(k, args, Arg.RSTD);
                // RMS norm has no BETA and no MEAN; the kernel never touches them, any valid cl_mem will do.
                OpenClBuffer beta = rms ? y : ClPlan.buf(k, args, Arg.BETA), mean = rms ? rstd : ClPlan.buf(k, args, Arg.MEAN);
                k.launch(stream, global, local, cat(new Object[] {ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.GAMMA),
                        beta, y, mean, rstd}, set, rms ? 1 : 0, eps));
            });
            case INFERENCE -> {
                ClKernel kernel = kernel("norm_inference", false);
                long[][] launch = linear(kernel, d.count());
                yield new ClPlan(d, name(), kernel, (k, stream, args) -> k.launch(stream, launch[0], launch[1],
                        ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.GAMMA), ClPlan.buf(k, args, Arg.BETA),
                        ClPlan.buf(k, args, Arg.MEAN), ClPlan.buf(k, args, Arg.VARIANCE), ClPlan.buf(k, args, Arg.DST),
                        d.count(), d.c(), d.spatial(), eps));
            }
            case BACKWARD -> {
                List<ClKernel> ks = batch ? ClPlan.kernels(device, "norm.cl", SOURCE, "norm_bwd")
                        : ClPlan.kernels(device, "norm.cl", SOURCE, "norm_bwd", "norm_param_grad");
                long[][] params;
                try {
                    params = batch ? null : linear(ks.get(1), d.c());
                } catch (RuntimeException e) {
                    for (ClKernel k : ks) k.close();
                    throw e;
                }
                yield new ClPlan(d, name(), ks, (kernels, stream, args) -> {
                    ClKernel k = kernels.getFirst();
                    OpenClBuffer x = ClPlan.buf(k, args, Arg.SRC), rstd = ClPlan.buf(k, args, Arg.RSTD), dy = ClPlan.buf(k, args, Arg.DIFF_DST);
                    OpenClBuffer dgamma = ClPlan.buf(k, args, Arg.DIFF_GAMMA);
                    OpenClBuffer mean = rms ? rstd : ClPlan.buf(k, args, Arg.MEAN), dbeta = rms ? dgamma : ClPlan.buf(k, args, Arg.DIFF_BETA);
                    k.launch(stream, global, local, cat(new Object[] {x, ClPlan.buf(k, args, Arg.GAMMA), mean, rstd, dy,
                            ClPlan.buf(k, args, Arg.DIFF_SRC), dgamma, dbeta}, set, rms ? 1 : 0, batch ? 1 : 0));
                    if (!batch)
                        kernels.get(1).launch(stream, params[0], params[1], x, mean, rstd, dy, dgamma, dbeta, d.n(), d.c(), rms ? 1 : 0);
                });
            }
        };
    }

    /** Kernel {@code name}; {@code grouped}: it needs work-groups of exactly {@link #WG}, checked here. */
    private ClKernel kernel(String name, boolean grouped) {
        ClKernel k = ClPlan.kernels(device, "norm.cl", SOURCE, name).getFirst();
        if (!grouped) return k;
        try {
            long most = k.maxWorkGroupSize();
            if (most < WG) throw new IllegalStateException("opencl: " + name + " needs work-groups of " + WG + " on "
                    + device.name() + ", which allows " + most);
        } catch (RuntimeException e) {
            k.close();
            throw e;
        }
        return k;
    }

    private static long[][] linear(ClKernel k, long count) {
        try {
            return ClPlan.linear(k, count, 64);
        } catch (RuntimeException e) {
            k.close();
            throw e;
        }
    }

    private static Object[] cat(Object[] head, Object[] mid, Object... tail) {
        Object[] out = new Object[head.length + mid.length + tail.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(mid, 0, out, head.length, mid.length);
        System.arraycopy(tail, 0, out, head.length + mid.length, tail.length);
        return out;
    }
}
