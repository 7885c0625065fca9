package dev.kiln.cuda;

import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;

import java.util.ArrayList;
import java.util.List;

/**
 * The part of the probe that needs JCuda, kept apart from {@link CudaProvider} so that the provider's
 * class can be loaded, and its FFM checks run, without any JCuda class. Only called once libcuda.so.1
 * is known to load.
 */
final class CudaRuntime {
    private CudaRuntime() {}

    /** cuInit and the device count; never throws. */
    static Probe probe() {
        try {
            // Exceptions make a failure inside JCuda's own setup surface here, caught below; after the
            // probe every call's result is checked by CudaException.check, which names the operation.
            JCudaDriver.setExceptionsEnabled(true);
            try {
                JCudaDriver.cuInit(0);
                int[] count = new int[1];
                JCudaDriver.cuDeviceGetCount(count);
                int[] driver = new int[1];
                JCudaDriver.cuDriverGetVersion(driver);
                if (count[0] == 0) return Probe.unavailable("the NVIDIA driver reports no CUDA devices");
                int needed = DeviceCode.requiredDriverVersion();
                if (needed > 0 && driver[0] < needed)
                    return Probe.unavailable("the driver supports CUDA " + version(driver[0]) + " but the device code was built by nvcc "
                            + DeviceCode.nvccVersion() + "; update the driver or rebuild with an nvcc <= " + version(driver[0]));
                return Probe.ok(count[0] + " CUDA device" + (count[0] == 1 ? "" : "s") + ", driver CUDA " + version(driver[0]));
            } finally {
                JCudaDriver.setExceptionsEnabled(false);
            }
        } catch (jcuda.CudaException e) {
            return Probe.unavailable("CUDA driver initialisation failed: " + firstLine(e.getMessage()));
        } catch (LinkageError | RuntimeException e) {
            return Probe.unavailable("JCuda could not load its native library: " + e.getClass().getSimpleName() + ": "
                    + firstLine(String.valueOf(e.getMessage())));
        }
    }

    /** Opens every device; a device that fails to open is logged and left out. */
    static List<Device> open(String cublas, System.Logger log) {
        CudaException.check("cuInit", JCudaDriver.cuInit(0));   // done by the probe; repeating it is harmless
        int[] count = new int[1];
        CudaException.check("count CUDA devices", JCudaDriver.cuDeviceGetCount(count));
        List<Device> devices = new ArrayList<>();
        for (int i = 0; i < count[0]; i++) {
            try {
                devices.add(new CudaDevice(i, cublas));
            } catch (RuntimeException e) {
                log.log(System.Logger.Level.WARNING, "cuda: device " + i + " skipped: " + e.getMessage());
            }
        }
        return devices;
    }

    /** Whether JCublas loads here; the reason when it does not. libcublas.so.12 was already found. */
    static String cublas() {
        try {
            JCublas2.setExceptionsEnabled(false);   // forces the native library to load
            return "available";
        } catch (LinkageError | RuntimeException e) {
            return "absent: JCublas could not load its native library (" + firstLine(String.valueOf(e.getMessage())) + ")";
        }
    }

    private static String version(int v) { return v / 1000 + "." + v % 1000 / 10; }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
