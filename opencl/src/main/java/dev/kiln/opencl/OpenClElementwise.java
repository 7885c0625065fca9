package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/** Elementwise unary (unary.cl) and same-shape binary (binary.cl) kernels, both passes, one work-item per element. */
final class OpenClElementwise {
    private OpenClElementwise() {}

    static final String UNARY_SOURCE = ClPrograms.resource("activation.cl") + ClPrograms.resource("unary.cl");
    static final String BINARY_SOURCE = ClPrograms.resource("binary.cl");

    private static String suffix(Pass pass) { return pass == Pass.FORWARD ? "_fwd" : "_bwd"; }

    static final class Unary implements KernelImpl {
        private final OpenClDevice device;

        Unary(OpenClDevice device) { this.device = device; }

        @Override public String name() { return "opencl-unary"; }

        @Override public OpKind kind() { return OpKind.UNARY; }

        @Override public Support supports(OpDesc desc) {
            return desc instanceof UnaryDesc ? Support.YES : Support.no("not a unary op");
        }

        @Override public Plan plan(OpDesc desc) {
            UnaryDesc d = (UnaryDesc) desc;
            String fn = "unary_" + d.op().lower() + suffix(d.pass());
            ClKernel kernel = device.programs().kernel(device.programs().program("unary.cl", UNARY_SOURCE, ""), fn);
            long[] global = {d.count()};
            return new ClPlan(d, name(), kernel, (k, stream, args) -> {
                if (d.count() == 0) return;
                if (d.pass() == Pass.FORWARD)
                    k.launch(stream, global, ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.DST), d.count());
                else
                    k.launch(stream, global, ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.DIFF_DST),
                            ClPlan.buf(k, args, Arg.DIFF_SRC), d.count());
            });
        }
    }

    static final class Binary implements KernelImpl {
        private final OpenClDevice device;

        Binary(OpenClDevice device) { this.device = device; }

        @Override public String name() { return "opencl-binary"; }

        @Override public OpKind kind() { return OpKind.BINARY; }

        /** Only operands that need no broadcasting: both hold as many elements as the result. */
        @Override public Support supports(OpDesc desc) {
            if (!(desc instanceof BinaryDesc d)) return Support.no("not a binary op");
            long out = d.out().count();
            if (d.a().count() != out || d.b().count() != out)
                return Support.no("opencl: no broadcasting binary kernel yet (shapes " + d.a() + " and " + d.b() + ")");
            return Support.YES;
        }

        @Override public Plan plan(OpDesc desc) {
            BinaryDesc d = (BinaryDesc) desc;
            String fn = "binary_" + d.op().lower() + suffix(d.pass());
            ClKernel kernel = device.programs().kernel(device.programs().program("binary.cl", BINARY_SOURCE, ""), fn);
            long count = d.out().count();
            long[] global = {count};
            return new ClPlan(d, name(), kernel, (k, stream, args) -> {
                if (count == 0) return;
                if (d.pass() == Pass.FORWARD)
                    k.launch(stream, global, ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.SRC2),
                            ClPlan.buf(k, args, Arg.DST), count);
                else
                    k.launch(stream, global, ClPlan.buf(k, args, Arg.SRC), ClPlan.buf(k, args, Arg.SRC2),
                            ClPlan.buf(k, args, Arg.DIFF_DST), ClPlan.buf(k, args, Arg.DIFF_SRC),
                            ClPlan.buf(k, args, Arg.DIFF_SRC2), count);
            });
        }
    }
}
