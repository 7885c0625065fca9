package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.UnaryDesc;

final class RefElementwise {
    private RefElementwise() {}

    static void unary(UnaryDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefElementwise"); }

    static void binary(BinaryDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefElementwise"); }
}
