package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ConvDesc;

final class RefConv {
    private RefConv() {}

    static void run(ConvDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefConv"); }
}
