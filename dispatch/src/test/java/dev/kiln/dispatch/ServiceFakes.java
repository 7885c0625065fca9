package dev.kiln.dispatch;

import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;

import java.util.List;

/**
 * Broken providers registered through {@code META-INF/services} in the test class path, so that the
 * real discovery path meets them next to the real CPU backend. Both are unavailable, so they never
 * change where an op runs.
 */
public final class ServiceFakes {
    private ServiceFakes() {}

    /** Like JCuda without libcuda: the probe touches a native class and fails to link. */
    public static final class NativeMissing implements BackendProvider {
        public NativeMissing() {}

        @Override public String name() { return "fake-native"; }

        @Override public Probe probe() { throw new UnsatisfiedLinkError("no fakecuda in java.library.path"); }

        @Override public List<Device> open() { throw new AssertionError("never opened"); }
    }

    /** A provider whose class cannot even be initialised: ServiceLoader reports it as it loads. */
    public static final class Unloadable implements BackendProvider {
        private static final String NAME = fail();

        public Unloadable() {}

        private static String fail() { throw new IllegalStateException("static initialiser of a fake backend failed"); }

        @Override public String name() { return NAME; }

        @Override public Probe probe() { return Probe.ok(""); }

        @Override public List<Device> open() { return List.of(); }
    }
}
