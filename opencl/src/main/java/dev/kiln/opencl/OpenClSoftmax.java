package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/** Softmax and log-softmax, both passes, any inner extent (softmax.cl): one work-item per line. */
final class OpenClSoftmax implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("softmax.cl");

    private final OpenClDevice device;

    OpenClSoftmax(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-softmax-line"; }

    @Override public OpKind kind() { return OpKind.SOFTMAX; }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof SoftmaxDesc ? Support.YES : Support.no("not a softmax");
    }

    @Override public Plan plan(OpDesc desc) {
        SoftmaxDesc d = (SoftmaxDesc) desc;
        boolean fwd = d.pass() == Pass.FORWARD;
        ClKernel kernel = device.programs().kernel(device.programs().program("softmax.cl", SOURCE, ""), fwd ? "softmax_fwd" : "softmax_bwd");
        long[] global = {(long) d.outer() * d.inner()};
        int log = d.log() ? 1 : 0;
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            if (fwd)
                k.launch(stream, global, ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.DST),
                        d.outer(), d.length(), d.inner(), log);
            else
                k.launch(stream, global, ClPlan.buf(k, args, Arg.DST), ClPlan.buf(k, args, Arg.DIFF_DST),
                        ClPlan.buf(k, args, Arg.DIFF_SRC), d.outer(), d.length(), d.inner(), log);
        });
    }
}
