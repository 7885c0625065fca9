package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.SpmmDesc;

final class RefSpmm {
    private RefSpmm() {}

    static void run(SpmmDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefSpmm"); }
}
