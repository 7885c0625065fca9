package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;
import dev.kiln.kernels.testing.ParityTestBase;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The CUDA kernels against the reference on the shared parity cases, on the first CUDA device. Without a
 * GPU every case is skipped with the probe's reason ("CUDA unavailable: libcuda.so.1 not found ...").
 */
class CudaParityTest extends ParityTestBase {
    private String reason = "CUDA unavailable";

    @Override protected Device openDevice() {
        CudaProvider provider = new CudaProvider();
        Probe probe = provider.probe();
        if (!probe.available()) {
            reason = "CUDA unavailable: " + probe.reason();
            return null;
        }
        List<Device> devices = provider.open();
        if (devices.isEmpty()) {
            reason = "CUDA unavailable: no device could be opened (see the log)";
            return null;
        }
        for (Device extra : devices.subList(1, devices.size())) extra.close();
        return devices.getFirst();
    }

    @Override protected String skipReason() { return reason; }

    /** The families with CUDA kernels; the others are declined by the device (its reason is tested elsewhere). */
    @Override protected Set<OpKind> kinds() {
        return EnumSet.of(OpKind.GEMM, OpKind.UNARY, OpKind.BINARY, OpKind.SOFTMAX, OpKind.REDUCE,
                OpKind.QGEMM, OpKind.QUANTIZE, OpKind.CONVERT, OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM);
    }
}
