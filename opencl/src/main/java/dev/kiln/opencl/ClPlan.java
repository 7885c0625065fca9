package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

/**
 * A plan of this backend: one kernel object, created at planning time from the device's cached program,
 * and a body that sets the descriptor's arguments and enqueues. Closing releases the kernel object (the
 * program stays cached on the device).
 */
final class ClPlan implements Plan {
    interface Body {
        void run(ClKernel kernel, OpenClStream stream, Args args);
    }

    private final OpDesc desc;
    private final String implementation;
    private final ClKernel kernel;
    private final Body body;

    ClPlan(OpDesc desc, String implementation, ClKernel kernel, Body body) {
        this.desc = desc;
        this.implementation = implementation;
        this.kernel = kernel;
        this.body = body;
    }

    @Override public OpDesc desc() { return desc; }

    @Override public String implementation() { return implementation; }

    @Override public void execute(Stream stream, Args args) {
        if (!(stream instanceof OpenClStream s) || s.device() != kernel.device())
            throw new IllegalArgumentException("opencl: " + desc.opName() + " planned on " + kernel.device().name()
                    + " cannot run on stream " + stream);
        body.run(kernel, s, args);
    }

    @Override public void close() { kernel.close(); }

    /** The operand {@code arg} as a buffer of the plan's device. */
    static OpenClBuffer buf(ClKernel kernel, Args args, Arg arg) {
        return ClKernel.buffer(args.get(arg), kernel.device(), arg.name().toLowerCase());
    }
}
