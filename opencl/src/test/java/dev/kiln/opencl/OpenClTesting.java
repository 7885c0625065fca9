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

    /** The device's first implementation that supports {@code desc}, as dispatch would pick it. */
    static dev.kiln.kernels.spi.KernelImpl firstSupporting(OpenClDevice device, dev.kiln.kernels.desc.OpDesc desc) {
        return device.implementations(desc.kind()).stream().filter(i -> i.supports(desc).ok()).findFirst()
                .orElseThrow(() -> new AssertionError(desc.opName() + " " + desc.shape() + " unsupported: " + device.supports(desc).reason()));
    }
}
