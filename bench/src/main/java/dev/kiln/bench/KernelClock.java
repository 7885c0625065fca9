package dev.kiln.bench;

import dev.kiln.kernels.spi.Device;

import java.lang.reflect.Method;

/**
 * Kernel device time, for backends that measure it: a device with a public {@code kernelTimes()} whose result
 * has {@code launches()} and {@code nanos()} running totals (the OpenCL backend, from queue profiling events).
 * Read by reflection, as bench does not depend on backend modules at compile time. A benchmark takes a
 * snapshot before and after its timed calls; the difference is the kernels' own time beside the wall time.
 */
record KernelClock(long launches, long nanos) {
    /** Turns OpenCL queue profiling on unless {@code -Dkiln.opencl.profile} says otherwise; before devices open. */
    static void enableProfiling() {
        if (System.getProperty("kiln.opencl.profile") == null) System.setProperty("kiln.opencl.profile", "true");
    }

    /** The device's totals now, or null when it keeps none (or profiling is off). */
    static KernelClock read(Device device) {
        try {
            Method m = device.getClass().getMethod("kernelTimes");
            Object times = m.invoke(device);
            long launches = (long) times.getClass().getMethod("launches").invoke(times);
            long nanos = (long) times.getClass().getMethod("nanos").invoke(times);
            return new KernelClock(launches, nanos);
        } catch (ReflectiveOperationException | ClassCastException e) {
            return null;
        }
    }

    /** Mean kernel milliseconds per call between {@code this} and {@code later}, over {@code calls} calls; NaN if none was timed. */
    double millisPerCall(KernelClock later, long calls) {
        if (later == null || later.launches == launches || calls <= 0) return Double.NaN;
        return (later.nanos - nanos) * 1e-6 / calls;
    }
}
