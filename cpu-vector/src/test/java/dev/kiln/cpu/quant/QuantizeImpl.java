package dev.kiln.cpu.quant;

import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

/** {@link VectorQuantize} or {@link VectorConvert} as the CPU device wraps them, for one op kind. */
record QuantizeImpl(OpKind kind) implements KernelImpl {
    @Override public String name() { return kind == OpKind.QUANTIZE ? "vector-quantize" : "vector-convert"; }

    @Override public Support supports(OpDesc desc) {
        if (desc.kind() != kind) return Support.no("not a " + kind.lower() + " op");
        return VectorSupport.status();
    }

    @Override public Plan plan(OpDesc desc) {
        Support s = supports(desc);
        if (!s.ok()) throw new IllegalArgumentException(desc.opName() + ": " + name() + " cannot run " + desc.shape() + ": " + s.reason());
        Width w = VectorSupport.width();
        return new Plan() {
            @Override public OpDesc desc() { return desc; }

            @Override public String implementation() { return name(); }

            @Override public void execute(Stream stream, Args args) {
                if (desc instanceof QuantizeDesc q) VectorQuantize.run(w, q, args);
                else VectorConvert.run(w, (ConvertDesc) desc, args);
            }
        };
    }
}
