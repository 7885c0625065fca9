package dev.kiln.cpu;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;

import java.util.SplittableRandom;

/** Small helpers for the CPU tests: seeded data and running a device's first supporting implementation. */
final class TestData {
    private TestData() {}

    static final long SEED = Long.getLong("kiln.seed", 20261123L);

    /** {@code n} floats uniform in [-1, 1) from {@code seed}. */
    static float[] floats(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    /** Plans {@code desc} with the device's first implementation that takes it, runs it, and returns the plan's name. */
    static String run(Device device, OpDesc desc, Args args) {
        for (KernelImpl impl : device.implementations(desc.kind())) {
            if (!impl.supports(desc).ok()) continue;
            try (Plan plan = impl.plan(desc)) {
                plan.execute(device.defaultStream(), args);
                device.defaultStream().synchronize();
                return plan.implementation();
            }
        }
        throw new AssertionError("no implementation takes " + desc.opName() + " " + desc.shape());
    }
}
