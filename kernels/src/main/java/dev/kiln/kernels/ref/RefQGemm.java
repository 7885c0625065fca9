package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.QGemmDesc;

final class RefQGemm {
    private RefQGemm() {}

    static void run(QGemmDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefQGemm"); }
}
