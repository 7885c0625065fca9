package dev.kiln.cpu;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

import java.util.function.Function;

/**
 * A Vector API implementation of one op family: supported when {@link VectorSupport#status()} is yes
 * and the family's own check accepts the descriptor. The plan fixes the width at planning time and runs
 * synchronously on host segments (CPU streams are synchronous).
 */
final class VectorImpl implements KernelImpl {
    /** The kernel entry point of a family: runs one validated descriptor at a width. */
    interface Body {
        void run(Width w, OpDesc desc, Args args);
    }

    private final String name;
    private final OpKind kind;
    private final Function<OpDesc, Support> accepts;
    private final Body body;

    VectorImpl(String name, OpKind kind, Function<OpDesc, Support> accepts, Body body) {
        this.name = name;
        this.kind = kind;
        this.accepts = accepts;
        this.body = body;
    }

    @Override public String name() { return name; }

    @Override public OpKind kind() { return kind; }

    @Override public Support supports(OpDesc desc) {
        if (desc.kind() != kind) return Support.no("not a " + kind.lower() + " op");
        Support s = VectorSupport.status();
        return s.ok() ? accepts.apply(desc) : s;
    }

    @Override public Plan plan(OpDesc desc) {
        Support s = supports(desc);
        if (!s.ok()) throw new IllegalArgumentException(desc.opName() + ": " + name + " cannot run " + desc.shape() + ": " + s.reason());
        Width w = VectorSupport.width();
        return new Plan() {
            @Override public OpDesc desc() { return desc; }

            @Override public String implementation() { return name; }

            @Override public void execute(Stream stream, Args args) {
                if (confined(args)) CpuThreads.onCallerOnly(() -> body.run(w, desc, args));
                else body.run(w, desc, args);
            }
        };
    }

    /** A thread that never runs: a segment it may access is accessible by the pool's threads too. */
    private static final Thread ANOTHER_THREAD = Thread.ofVirtual().unstarted(() -> { });

    /**
     * Whether some operand is a segment of a confined arena, which only its owner (the caller) may touch: the
     * pool's threads would fail with WrongThreadException, so such calls run on the caller alone.
     */
    private static boolean confined(Args args) {
        for (DeviceBuffer b : args.asMap().values())
            if (b != null && b.isHost() && !b.hostSegment().isAccessibleBy(ANOTHER_THREAD)) return true;
        return false;
    }

    @Override public String toString() { return name; }
}
