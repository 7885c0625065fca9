package dev.kiln.opencl;

import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;
import org.jocl.CL;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

import java.util.ArrayList;
import java.util.List;

/**
 * Platform and device enumeration. The first class of this module that touches JOCL: the provider calls
 * it only after the ICD loader was found, and catches {@link LinkageError} around it.
 */
final class ClPlatforms {
    private ClPlatforms() {}

    private static final System.Logger LOG = System.getLogger("dev.kiln.opencl");

    static Probe probe() {
        CL.setExceptionsEnabled(false);
        List<cl_platform_id> platforms = platforms();
        if (platforms.isEmpty()) return Probe.unavailable("opencl: no OpenCL platform installed (install a driver such as pocl-opencl-icd)");
        List<String> names = new ArrayList<>();
        for (cl_platform_id p : platforms)
            for (cl_device_id d : devices(p)) names.add(ClInfo.deviceString(d, CL.CL_DEVICE_NAME));
        if (names.isEmpty()) return Probe.unavailable("opencl: " + platforms.size() + " platform(s) but no devices");
        return Probe.ok(names.size() + " device(s): " + String.join(", ", names));
    }

    /** One device per OpenCL device of every platform; a device that fails to open is logged and skipped. */
    static List<Device> openAll() {
        CL.setExceptionsEnabled(false);
        List<Device> out = new ArrayList<>();
        for (cl_platform_id p : platforms()) {
            for (cl_device_id d : devices(p)) {
                try {
                    out.add(new OpenClDevice(p, d));
                } catch (OpenClException e) {
                    LOG.log(System.Logger.Level.WARNING, "opencl: skipping device " + ClInfo.deviceString(d, CL.CL_DEVICE_NAME) + ": " + e.getMessage());
                }
            }
        }
        return out;
    }

    static List<cl_platform_id> platforms() {
        int[] n = new int[1];
        int rc = CL.clGetPlatformIDs(0, null, n);
        // The ICD loader answers CL_PLATFORM_NOT_FOUND_KHR when no vendor file is installed.
        if (rc != CL.CL_SUCCESS || n[0] == 0) return List.of();
        cl_platform_id[] ids = new cl_platform_id[n[0]];
        OpenClException.check(CL.clGetPlatformIDs(n[0], ids, null), "clGetPlatformIDs", null);
        return List.of(ids);
    }

    static List<cl_device_id> devices(cl_platform_id platform) {
        int[] n = new int[1];
        int rc = CL.clGetDeviceIDs(platform, CL.CL_DEVICE_TYPE_ALL, 0, null, n);
        if (rc != CL.CL_SUCCESS || n[0] == 0) return List.of();
        cl_device_id[] ids = new cl_device_id[n[0]];
        OpenClException.check(CL.clGetDeviceIDs(platform, CL.CL_DEVICE_TYPE_ALL, n[0], ids, null), "clGetDeviceIDs", null);
        return List.of(ids);
    }
}
