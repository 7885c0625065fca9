package dev.kiln.opencl;

import dev.kiln.kernels.spi.Probe;
import org.junit.jupiter.api.Assumptions;

import java.util.List;

/** Opens the first OpenCL device for a test, or aborts the test with the probe's reason. */
final class OpenClTesting {
    private OpenClTesting() {}

    static final Probe PROBE = new OpenClProvider().probe();

    /** The first device (POCL on CI); the caller closes it. Aborts (skips) when there is none. */
    static OpenClDevice firstDevice() {
        Assumptions.assumeTrue(PROBE.available(), () -> "no OpenCL device: " + PROBE.reason());
        List<dev.kiln.kernels.spi.Device> all = new OpenClProvider().open();
        Assumptions.assumeFalse(all.isEmpty(), "OpenCL probe succeeded but no device opened");
        for (int i = 1; i < all.size(); i++) all.get(i).close();
        return (OpenClDevice) all.getFirst();
    }
}
