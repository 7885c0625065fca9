package dev.kiln.cuda;

import dev.kiln.kernels.spi.Probe;

/**
 * The first CUDA device for the GPU-only tests, or why there is none ("CUDA unavailable: ..."), which those
 * tests print when they skip. Devices after the first are closed at once.
 */
record FirstCudaDevice(CudaDevice device, String reason) {
    static FirstCudaDevice open() {
        CudaProvider provider = new CudaProvider();
        Probe probe = provider.probe();
        if (!probe.available()) return new FirstCudaDevice(null, "CUDA unavailable: " + probe.reason());
        var devices = provider.open();
        if (devices.isEmpty()) return new FirstCudaDevice(null, "CUDA unavailable: no device could be opened (see the log)");
        for (var extra : devices.subList(1, devices.size())) extra.close();
        return new FirstCudaDevice((CudaDevice) devices.getFirst(), null);
    }
}
