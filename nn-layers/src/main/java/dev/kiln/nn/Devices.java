package dev.kiln.nn;

import dev.kiln.dispatch.Dispatch;
import dev.kiln.kernels.spi.Device;

/**
 * Where new tensors live. By default the device dispatch ranks first, or the first device of the forced
 * backend ({@code KILN_BACKEND=opencl}), so that training code runs unchanged on CPU, OpenCL or CUDA with
 * its tensors resident on that device and no copies per op.
 */
public final class Devices {
    private static volatile Device current;

    private Devices() {}

    public static Device current() {
        Device d = current;
        if (d == null) {
            synchronized (Devices.class) {
                if (current == null) current = choose(Dispatch.get());
                d = current;
            }
        }
        return d;
    }

    /** Makes {@code device} the one new tensors are allocated on (tests, tools). */
    public static void use(Device device) {
        if (device == null) throw new IllegalArgumentException("devices: device is null");
        current = device;
    }

    static Device choose(Dispatch dispatch) {
        String forced = dispatch.config().forcedBackend();
        if (forced != null) {
            String backend = forced.contains("/") ? forced.substring(0, forced.indexOf('/')) : forced;
            for (Device d : dispatch.devices()) if (d.backend().equals(backend)) return d;
        }
        if (dispatch.devices().isEmpty())
            throw new IllegalStateException("nn: no compute device found (kiln info lists the backends and why they are unavailable)");
        return dispatch.devices().getFirst();
    }
}
