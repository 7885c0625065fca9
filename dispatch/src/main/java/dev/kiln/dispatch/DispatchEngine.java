package dev.kiln.dispatch;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Engine;

/**
 * The {@link dev.kiln.kernels.Kernels} facade's engine when this module is on the class path (registered
 * in {@code META-INF/services}); it hands every op to the process-wide {@link Dispatch#get()}.
 */
public final class DispatchEngine implements Engine {
    /** ServiceLoader needs a public no-argument constructor; the dispatch instance is created on first use. */
    public DispatchEngine() {}

    @Override public String name() { return "dispatch"; }

    @Override public void execute(OpDesc desc, Args args) { Dispatch.get().execute(desc, args); }
}
