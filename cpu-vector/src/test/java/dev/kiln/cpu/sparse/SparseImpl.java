package dev.kiln.cpu.sparse;

import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

/**
 * The sparse kernels as the CPU device wraps them (its VectorImpl is package-private to dev.kiln.cpu):
 * supported when vector kernels are on, width fixed at planning time.
 */
final class SparseImpl implements KernelImpl {
    private final OpKind kind;

    SparseImpl(OpKind kind) { this.kind = kind; }

    @Override public String name() { return "vector-sparse"; }

    @Override public OpKind kind() { return kind; }

    @Override public Support supports(OpDesc desc) {
        if (desc.kind() != kind) return Support.no("not a " + kind.lower() + " op");
        Support s = VectorSupport.status();
        return s.ok() ? VectorSparse.supports(desc) : s;
    }

    @Override public Plan plan(OpDesc desc) {
        Support s = supports(desc);
        if (!s.ok()) throw new IllegalArgumentException(desc.opName() + ": vector-sparse cannot run " + desc.shape() + ": " + s.reason());
        Width w = VectorSupport.width();
        return new Plan() {
            @Override public OpDesc desc() { return desc; }

            @Override public String implementation() { return name(); }

            @Override public void execute(Stream stream, Args args) { VectorSparse.run(w, desc, args); }
        };
    }
}
