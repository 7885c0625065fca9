package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.OpDesc;

/** The one place this module calls {@link Kernels#execute}, so that every kernel call is profiled. */
final class Exec {
    private Exec() {}

    static void run(OpDesc desc, Args args) {
        try (Profiler.Timer t = Profiler.op(desc)) {
            Kernels.execute(desc, args);
        }
    }
}
