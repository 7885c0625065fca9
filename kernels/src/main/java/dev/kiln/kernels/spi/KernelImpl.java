package dev.kiln.kernels.spi;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;

/** One implementation of one op family on one device. A device lists its implementations best first. */
public interface KernelImpl {
    String name();

    OpKind kind();

    /** Yes, or no with the reason (unsupported dtype, a size limit, a missing device feature). */
    Support supports(OpDesc desc);

    /** Prepares the kernel for {@code desc}; called only after {@link #supports} said yes. */
    Plan plan(OpDesc desc);
}
