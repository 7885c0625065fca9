package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.PoolDesc;

final class RefPool {
    private RefPool() {}

    static void run(PoolDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefPool"); }
}
