package dev.kiln.cpu.quant;

import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

/**
 * The quantised GEMM as the CPU device would wrap it (CpuDevice's package-private VectorImpl, which this
 * package cannot reach): supported when vector kernels are on, width fixed at planning time.
 */
final class QuantImpl implements KernelImpl {
    @Override public String name() { return "vector-qgemm"; }

    @Override public OpKind kind() { return OpKind.QGEMM; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof QGemmDesc q)) return Support.no("not a qgemm op");
        Support s = VectorSupport.status();
        return s.ok() ? VectorQGemm.supports(q) : s;
    }

    @Override public Plan plan(OpDesc desc) {
        Support s = supports(desc);
        if (!s.ok()) throw new IllegalArgumentException(desc.opName() + ": vector-qgemm cannot run " + desc.shape() + ": " + s.reason());
        Width w = VectorSupport.width();
        return new Plan() {
            @Override public OpDesc desc() { return desc; }

            @Override public String implementation() { return name(); }

            @Override public void execute(Stream stream, Args args) { VectorQGemm.run(w, (QGemmDesc) desc, args); }
        };
    }
}
