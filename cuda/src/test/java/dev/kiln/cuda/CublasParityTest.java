package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.testing.ParityTestBase;

import java.util.EnumSet;
import java.util.Set;

/**
 * The cuBLAS GEMM (second in the device's list, so the plain parity suite only reaches it for f64) forced
 * on every GEMM case. Skipped with the reason without a GPU or without cuBLAS.
 */
class CublasParityTest extends ParityTestBase {
    private final CudaParityTest opener = new CudaParityTest();
    private String reason = "CUDA unavailable";
    private KernelImpl cublas;

    @Override protected Device openDevice() {
        Device device = opener.openDevice();
        if (device == null) {
            reason = opener.skipReason();
            return null;
        }
        cublas = device.implementations(OpKind.GEMM).stream().filter(i -> i instanceof CublasGemm).findFirst().orElse(null);
        if (cublas == null) {
            reason = "cuBLAS unavailable: " + device.properties().get("cublas");
            device.close();
            return null;
        }
        return device;
    }

    @Override protected String skipReason() { return reason; }

    @Override protected Set<OpKind> kinds() { return EnumSet.of(OpKind.GEMM); }

    @Override protected KernelImpl implementation(OpDesc desc) { return cublas; }
}
