package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ReduceDesc;

final class RefReduce {
    private RefReduce() {}

    static void run(ReduceDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefReduce"); }
}
