package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Engine;

/** The facade's engine when no dispatch module is on the class path: reference kernels on host memory. */
public final class RefEngine implements Engine {
    @Override public String name() { return "reference"; }

    @Override public void execute(OpDesc desc, Args args) {
        for (DeviceBuffer b : args.asMap().values()) {
            if (!b.isHost())
                throw new IllegalArgumentException(desc.opName() + ": operand on device " + b.device().name()
                        + " but no dispatch engine is on the class path (add dev.kiln:kiln-all)");
        }
        RefKernels.run(desc, args);
    }
}
