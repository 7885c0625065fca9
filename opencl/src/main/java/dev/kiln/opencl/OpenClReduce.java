package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/** Sum, mean, max and argmax along the middle axis, any inner extent (reduce.cl): one work-item per output. */
final class OpenClReduce implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("reduce.cl");

    private final OpenClDevice device;

    OpenClReduce(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-reduce-line"; }

    @Override public OpKind kind() { return OpKind.REDUCE; }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof ReduceDesc ? Support.YES : Support.no("not a reduction");
    }

    @Override public Plan plan(OpDesc desc) {
        ReduceDesc d = (ReduceDesc) desc;
        String fn = switch (d.op()) {
            case SUM, MEAN -> "reduce_sum";
            case MAX -> "reduce_max";
            case ARGMAX -> "reduce_argmax";
        };
        ClKernel kernel = device.programs().kernel(device.programs().program("reduce.cl", SOURCE, ""), fn);
        long[] global = {(long) d.outer() * d.inner()};
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            OpenClBuffer src = ClPlan.buf(k, args, Arg.SRC), dst = ClPlan.buf(k, args, Arg.DST);
            if (d.op() == ReduceOp.SUM || d.op() == ReduceOp.MEAN)
                k.launch(stream, global, src, dst, d.outer(), d.length(), d.inner(), d.op() == ReduceOp.MEAN ? 1 : 0);
            else
                k.launch(stream, global, src, dst, d.outer(), d.length(), d.inner());
        });
    }
}
