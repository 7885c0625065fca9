package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.NormDesc;

final class RefNorm {
    private RefNorm() {}

    static void run(NormDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefNorm"); }
}
