package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.spi.Device;
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
        FirstCudaDevice first = FirstCudaDevice.open();
        if (first.device() == null) reason = first.reason();
        return first.device();
    }

    @Override protected String skipReason() { return reason; }

    /** The families with CUDA kernels; the others are declined by the device (its reason is tested elsewhere). */
    @Override protected Set<OpKind> kinds() {
        return EnumSet.of(OpKind.GEMM, OpKind.UNARY, OpKind.BINARY, OpKind.SOFTMAX, OpKind.REDUCE,
                OpKind.QGEMM, OpKind.QUANTIZE, OpKind.CONVERT, OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM);
    }
}
