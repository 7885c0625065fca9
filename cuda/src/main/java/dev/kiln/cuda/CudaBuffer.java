package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import jcuda.driver.CUdeviceptr;

import java.lang.foreign.MemorySegment;

/**
 * Device memory of a {@link CudaDevice}: a block of its caching allocator, at least {@link #byteSize()}
 * bytes, 256-byte aligned. An empty buffer holds no block (its pointer is null). Closing returns the block
 * to the device's cache (kernels still queued on it finish before the block is reused); closing twice is
 * harmless. The ranged byte copies are synchronous.
 */
public final class CudaBuffer implements DeviceBuffer {
    private final CudaDevice device;
    private final DType dtype;
    private final long count;
    private final BlockPool.Block<CUdeviceptr> block;
    private volatile boolean closed;

    CudaBuffer(CudaDevice device, DType dtype, long count, BlockPool.Block<CUdeviceptr> block) {
        this.device = device;
        this.dtype = dtype;
        this.count = count;
        this.block = block;
    }

    @Override public Device device() { return device; }

    @Override public DType dtype() { return dtype; }

    @Override public long count() { return count; }

    @Override public boolean isClosed() { return closed; }

    @Override public boolean isHost() { return false; }

    @Override public MemorySegment hostSegment() {
        throw new UnsupportedOperationException("cuda: a device buffer has no host segment; copy it with copyTo");
    }

    /** The device address for kernel arguments (a null pointer for an empty buffer). */
    CUdeviceptr pointer() {
        ensureOpen("kernel argument");
        return block == null ? new CUdeviceptr() : block.handle();
    }

    @Override public void writeBytes(long byteOffset, MemorySegment src) {
        ensureOpen("writeBytes");
        if (src.byteSize() == 0) return;
        device.makeCurrent();
        device.memory().toDevice(block.handle().withByteOffset(byteOffset), src);
    }

    @Override public void readBytes(long byteOffset, MemorySegment dst) {
        ensureOpen("readBytes");
        if (dst.byteSize() == 0) return;
        device.makeCurrent();
        device.memory().toHost(dst, block.handle().withByteOffset(byteOffset));
    }

    @Override public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        // After the device closed, its context (and with it this memory) is gone: nothing to return.
        if (block == null || device.isClosed()) return;
        device.makeCurrent();
        device.memory().release(block);
    }

    @Override public String toString() {
        return "CudaBuffer[" + count + " " + dtype.lower() + " on " + device.name() + (closed ? ", closed" : "") + "]";
    }
}
