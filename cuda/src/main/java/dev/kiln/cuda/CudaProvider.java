package dev.kiln.cuda;

import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;

import java.util.List;

/**
 * The CUDA backend, found through {@link java.util.ServiceLoader}. {@link #probe()} checks, in order and
 * without loading any JCuda class until the first two pass: that {@code libcuda.so.1} loads (FFM), that
 * the build produced the PTX, then JCuda's cuInit and the device count. cuBLAS is optional: its presence
 * is recorded in each device's {@code cublas} property. This class must not mention JCuda types: the
 * JCuda work sits in {@link CudaRuntime}.
 */
public final class CudaProvider implements BackendProvider {
    private static final System.Logger LOG = System.getLogger("dev.kiln.cuda");

    @Override public String name() { return "cuda"; }

    @Override public Probe probe() {
        if (!NativeLibraries.loads(NativeLibraries.DRIVER))
            return Probe.unavailable(NativeLibraries.DRIVER + " not found (no NVIDIA driver)");
        String noCode = DeviceCode.missing();
        if (noCode != null) return Probe.unavailable(noCode);
        return CudaRuntime.probe();
    }

    @Override public List<Device> open() {
        String cublas = NativeLibraries.loads(NativeLibraries.CUBLAS)
                ? CudaRuntime.cublas()
                : "absent: " + NativeLibraries.CUBLAS + " not found";
        return CudaRuntime.open(cublas, LOG);
    }
}
