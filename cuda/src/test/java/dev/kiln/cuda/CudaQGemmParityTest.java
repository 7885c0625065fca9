package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.testing.ParityTestBase;

import java.util.EnumSet;
import java.util.Set;

/**
 * The CUDA-core low-bit GEMM ("cuda-qgemm": dp4a for int8) forced on every QGEMM case: on compute capability
 * 8.0+ the plain parity suite sends the int8 cases to the tensor-core kernel, listed first, so this is where
 * the dp4a kernels meet the reference. Skipped with the probe's reason without a GPU.
 */
class CudaQGemmParityTest extends ParityTestBase {
    private final CudaParityTest opener = new CudaParityTest();
    private String reason = "CUDA unavailable";
    private KernelImpl cudaCores;

    @Override protected Device openDevice() {
        Device device = opener.openDevice();
        if (device == null) {
            reason = opener.skipReason();
            return null;
        }
        cudaCores = device.implementations(OpKind.QGEMM).stream().filter(i -> i.name().equals("cuda-qgemm")).findFirst().orElseThrow();
        return device;
    }

    @Override protected String skipReason() { return reason; }

    @Override protected Set<OpKind> kinds() { return EnumSet.of(OpKind.QGEMM); }

    @Override protected KernelImpl implementation(OpDesc desc) { return cudaCores; }
}
