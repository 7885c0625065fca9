package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

import java.util.ArrayList;
import java.util.List;

/**
 * A plan of this backend: its kernel objects, created at planning time from the device's cached programs,
 * and a body that sets the descriptor's arguments and enqueues. Most ops need one kernel; some (convolution
 * weights plus bias gradient, norm backward plus parameter gradients) need a few, launched in order on the
 * same in-order queue. Closing releases the kernel objects (the programs stay cached on the device).
 */
final class ClPlan implements Plan {
    interface Body {
        void run(ClKernel kernel, OpenClStream stream, Args args);
    }

    /** A body over several kernels, in the order they were created. */
    interface MultiBody {
        void run(List<ClKernel> kernels, OpenClStream stream, Args args);
    }

    private final OpDesc desc;
    private final String implementation;
    private final List<ClKernel> kernels;
    private final MultiBody body;
    private final List<OpenClBuffer> scratch;

    ClPlan(OpDesc desc, String implementation, ClKernel kernel, Body body) {
        this(desc, implementation, List.of(kernel), (ks, s, a) -> body.run(ks.getFirst(), s, a));
    }

    ClPlan(OpDesc desc, String implementation, List<ClKernel> kernels, MultiBody body) {
        this(desc, implementation, kernels, body, List.of());
    }

    /** With device workspace {@code scratch}, allocated when planning and released with the plan. */
    ClPlan(OpDesc desc, String implementation, List<ClKernel> kernels, MultiBody body, List<OpenClBuffer> scratch) {
        assert !kernels.isEmpty() : desc.opName() + ": a plan needs a kernel";
        this.desc = desc;
        this.implementation = implementation;
        this.kernels = List.copyOf(kernels);
        this.body = body;
        this.scratch = List.copyOf(scratch);
    }

    @Override public OpDesc desc() { return desc; }

    @Override public String implementation() { return implementation; }

    @Override public void execute(Stream stream, Args args) {
        OpenClDevice device = kernels.getFirst().device();
        if (!(stream instanceof OpenClStream s) || s.device() != device)
            throw new IllegalArgumentException("opencl: " + desc.opName() + " planned on " + device.name()
                    + " cannot run on stream " + stream);
        if (scratch.isEmpty()) {
            body.run(kernels, s, args);
            return;
        }
        // One in-order queue orders the uses of the scratch by itself; a second queue could overlap them, so
        // switching queues first waits for the previous one. Executions are serialised on the plan for the same reason.
        synchronized (this) {
            if (lastStream != null && lastStream != s) lastStream.synchronize();
            lastStream = s;
            body.run(kernels, s, args);
        }
    }

    private OpenClStream lastStream;

    @Override public void close() {
        RuntimeException first = null;
        for (AutoCloseable k : concat(kernels, scratch)) {
            try {
                k.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            } catch (Exception e) {
                throw new AssertionError("kernels and buffers throw only unchecked exceptions", e);
            }
        }
        if (first != null) throw first;
    }

    private static List<AutoCloseable> concat(List<? extends AutoCloseable> a, List<? extends AutoCloseable> b) {
        List<AutoCloseable> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /** The operand {@code arg} as a buffer of the plan's device. */
    static OpenClBuffer buf(ClKernel kernel, Args args, Arg arg) {
        return ClKernel.buffer(args.get(arg), kernel.device(), arg.name().toLowerCase());
    }

    /**
     * New kernel objects {@code names} of the program built from {@code source}; if one fails, those already
     * made are released before the exception leaves.
     */
    static List<ClKernel> kernels(OpenClDevice device, String label, String source, String... names) {
        var program = device.programs().program(label, source, "");
        List<ClKernel> out = new ArrayList<>(names.length);
        try {
            for (String name : names) out.add(device.programs().kernel(program, name));
        } catch (RuntimeException e) {
            for (ClKernel k : out) k.close();
            throw e;
        }
        return out;
    }

    /**
     * A 1D launch of {@code count} work-items in groups of {@code local} (at most the kernel's limit):
     * the global size rounded up to whole groups, which the kernel guards against. Returns {global, local}.
     */
    static long[][] linear(ClKernel kernel, long count, long local) {
        long l = Math.max(1, Math.min(local, kernel.maxWorkGroupSize()));
        return new long[][] {{Math.ceilDiv(count, l) * l}, {l}};
    }
}
