package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

import java.util.function.Function;

/**
 * The conv-package kernels wrapped as implementations at a fixed width, the way CpuDevice's {@code vector(...)}
 * registration wraps them, so the parity harness can check them before (and independently of) registration.
 */
final class ConvImpls {
    private ConvImpls() {}

    interface Body {
        void run(Width w, OpDesc d, Args a);
    }

    static KernelImpl conv(Width w) {
        return impl("vector-conv-" + w.bits(), OpKind.CONV, w, d -> VectorConv.supports((ConvDesc) d),
                (x, d, a) -> VectorConv.run(x, (ConvDesc) d, a));
    }

    static KernelImpl pool(Width w) {
        return impl("vector-pool-" + w.bits(), OpKind.POOL, w, d -> VectorPool.supports((PoolDesc) d),
                (x, d, a) -> VectorPool.run(x, (PoolDesc) d, a));
    }

    static KernelImpl impl(String name, OpKind kind, Width w, Function<OpDesc, Support> accepts, Body body) {
        return new KernelImpl() {
            @Override public String name() { return name; }

            @Override public OpKind kind() { return kind; }

            @Override public Support supports(OpDesc desc) {
                return desc.kind() == kind ? accepts.apply(desc) : Support.no("not a " + kind.lower() + " op");
            }

            @Override public Plan plan(OpDesc desc) {
                return new Plan() {
                    @Override public OpDesc desc() { return desc; }

                    @Override public String implementation() { return name; }

                    @Override public void execute(Stream stream, Args args) { body.run(w, desc, args); }
                };
            }
        };
    }
}
