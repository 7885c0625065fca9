package dev.kiln.kernels.spi;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;

/**
 * An implementation whose kernels are written for f32 operands only. Most op families accept f64 descriptors
 * because the reference computes them (gradient checks in double need that), but a device kernel compiled
 * for floats would read f64 buffers as garbage; wrapping it here makes it decline anything but f32 with a
 * reason, so dispatch moves on to an implementation that can run it (in the end, the reference).
 */
public final class F32Only implements KernelImpl {
    private final KernelImpl inner;

    private F32Only(KernelImpl inner) { this.inner = inner; }

    /** {@code impl}, declining every descriptor whose dtype is not f32. */
    public static KernelImpl wrap(KernelImpl impl) {
        if (impl == null) throw new IllegalArgumentException("f32-only: implementation is null");
        return new F32Only(impl);
    }

    /** Yes for f32 descriptors, else no naming the implementation and the dtype. */
    public static Support check(String implementation, OpDesc desc) {
        return desc.dtype() == DType.F32 ? Support.YES
                : Support.no(implementation + ": f32 kernels only, " + desc.opName() + " is " + desc.dtype().lower());
    }

    /** The wrapped implementation (tests that need its concrete type). */
    public KernelImpl inner() { return inner; }

    @Override public String name() { return inner.name(); }

    @Override public OpKind kind() { return inner.kind(); }

    @Override public Support supports(OpDesc desc) {
        Support s = check(inner.name(), desc);
        return s.ok() ? inner.supports(desc) : s;
    }

    @Override public Plan plan(OpDesc desc) { return inner.plan(desc); }

    @Override public String toString() { return inner + " (f32 only)"; }
}
