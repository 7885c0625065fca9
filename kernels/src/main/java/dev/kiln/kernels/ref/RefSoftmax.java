package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.SoftmaxDesc;

final class RefSoftmax {
    private RefSoftmax() {}

    static void run(SoftmaxDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefSoftmax"); }
}
