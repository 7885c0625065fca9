package dev.kiln.cuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

/**
 * The device code of one {@link CudaDevice}: each family's PTX module is loaded (JIT-compiled by the
 * driver) once, on first use, choosing the sm_90 variant on compute capability 9.x; functions are looked
 * up once and kept. Plans take their {@link Kernel}s at plan time, so execution does no lookups.
 */
final class CudaModules {
    private final CudaDevice device;
    private final Map<DeviceCode.Family, CUmodule> modules = new EnumMap<>(DeviceCode.Family.class);
    private final Map<String, Kernel> kernels = new HashMap<>();

    CudaModules(CudaDevice device) { this.device = device; }

    /** The kernel {@code entry} of {@code family}, loading the module if needed. */
    synchronized Kernel kernel(DeviceCode.Family family, String entry) {
        Kernel k = kernels.get(entry);
        if (k != null) return k;
        device.makeCurrent();
        CUmodule module = modules.get(family);
        String resource = family.resource(device.computeMajor());
        if (module == null) {
            module = new CUmodule();
            int r = cuModuleLoadData(module, DeviceCode.ptx(resource));
            if (r != CUresult.CUDA_SUCCESS)
                throw new CudaException("load " + resource.substring(1) + " on " + device.name(), r,
                        "PTX from nvcc " + DeviceCode.nvccVersion() + "; driver supports CUDA " + device.driverVersion());
            modules.put(family, module);
        }
        CUfunction f = new CUfunction();
        CudaException.check("find kernel " + entry + " in " + resource.substring(1) + " on " + device.name(),
                cuModuleGetFunction(f, module, entry));
        k = new Kernel(device, entry, f);
        kernels.put(entry, k);
        return k;
    }

    /** Unloads every module; plans that hold kernels must not run afterwards. */
    synchronized void close() {
        device.makeCurrent();
        kernels.clear();
        CudaException failure = null;
        for (CUmodule m : modules.values()) {
            int r = cuModuleUnload(m);
            if (r != CUresult.CUDA_SUCCESS && failure == null) failure = new CudaException("unload a module on " + device.name(), r);
        }
        modules.clear();
        if (failure != null) throw failure;
    }

    /** A pointer {@code elements} elements into {@code buffer}, as a kernel argument (a group's or image's slice). */
    record At(CudaBuffer buffer, long elements) {}

    /** A loaded kernel function and its launch. */
    record Kernel(CudaDevice device, String name, CUfunction function) {
        /**
         * Launches on {@code stream} with a 1-D block of {@code threads} and grid (gx, gy, gz). Arguments map to
         * the kernel's parameters in order and must match their C types exactly: {@link CudaBuffer} (a device
         * pointer), {@link At} (a pointer into one), {@code null} (a null pointer), Integer (int), Long (long long), Float (float).
         */
        void launch(String op, CudaStream stream, int gx, int gy, int gz, int threads, Object... args) {
            NativePointerObject[] params = new NativePointerObject[args.length];
            for (int i = 0; i < args.length; i++) {
                params[i] = switch (args[i]) {
                    case null -> Pointer.to(new jcuda.driver.CUdeviceptr());
                    case CudaBuffer b -> Pointer.to(b.pointer());
                    case At at -> Pointer.to(at.buffer().pointer().withByteOffset(at.buffer().dtype().bytes(at.elements())));
                    case Integer v -> Pointer.to(new int[] {v});
                    case Long v -> Pointer.to(new long[] {v});
                    case Float v -> Pointer.to(new float[] {v});
                    default -> throw new IllegalArgumentException(op + ": kernel argument " + i + " of " + name
                            + " has unsupported type " + args[i].getClass().getName());
                };
            }
            device.makeCurrent();
            int r = cuLaunchKernel(function, gx, gy, gz, threads, 1, 1, 0, stream.handle(), Pointer.to(params), null);
            if (r != CUresult.CUDA_SUCCESS) throw launchFailure(op, name, device.name(), gx, gy, gz, threads, r);
        }

        /** The exception for a failed launch: the op, the kernel, the device, the launch shape and the CUDA error name. */
        static CudaException launchFailure(String op, String kernel, String device, int gx, int gy, int gz, int threads, int result) {
            return new CudaException(op + ": launch " + kernel + " on " + device + " (grid " + gx + "x" + gy + "x" + gz
                    + ", block " + threads + ")", result,
                    result == CUresult.CUDA_ERROR_INVALID_VALUE && threads > 1024 ? "more than 1024 threads per block" : null);
        }
    }
}
