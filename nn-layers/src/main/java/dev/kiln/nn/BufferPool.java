package dev.kiln.nn;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Recycles the device buffers of closed temporaries. A training step allocates the same sizes every time,
 * and a fresh allocation costs far more than the small ops that use it (a native arena per buffer on the
 * host, a driver call on a GPU), so a scope's buffers go back here when it closes and the next step takes
 * them again. The pool keeps at most {@link #LIMIT_BYTES}; beyond that buffers are freed. Buffers come back
 * with stale contents, which is what {@link Tensor#empty} promises.
 */
public final class BufferPool {
    /** Bytes kept for reuse at most; more are freed at once. */
    public static final long LIMIT_BYTES = 1L << 30;

    /** Buffers are interchangeable only with the same dtype and element count. */
    private record Size(DType dtype, long count) {}

    private static final Map<Device, Map<Size, ArrayDeque<DeviceBuffer>>> FREE = new IdentityHashMap<>();
    private static long pooledBytes;

    private BufferPool() {}

    /** A buffer of exactly {@code count} elements of {@code dtype} on {@code device}, reused when one is free. */
    static synchronized DeviceBuffer take(Device device, DType dtype, long count) {
        Map<Size, ArrayDeque<DeviceBuffer>> bySize = FREE.get(device);
        ArrayDeque<DeviceBuffer> free = bySize == null ? null : bySize.get(new Size(dtype, count));
        if (free != null && !free.isEmpty()) {
            DeviceBuffer b = free.pop();
            pooledBytes -= b.byteSize();
            return b;
        }
        return device.allocate(dtype, count);
    }

    /** Takes back a buffer allocated by {@link #take}; the caller must not use it again. */
    static synchronized void give(DeviceBuffer buffer) {
        Device device = buffer.device();
        if (device == null || buffer.isClosed() || pooledBytes + buffer.byteSize() > LIMIT_BYTES) {
            buffer.close();
            return;
        }
        FREE.computeIfAbsent(device, d -> new HashMap<>()).computeIfAbsent(new Size(buffer.dtype(), buffer.count()), c -> new ArrayDeque<>()).push(buffer);
        pooledBytes += buffer.byteSize();
    }

    /** Frees every pooled buffer (e.g. when training ends, or before closing a device). */
    public static synchronized void clear() {
        for (Map<Size, ArrayDeque<DeviceBuffer>> bySize : FREE.values())
            for (ArrayDeque<DeviceBuffer> free : bySize.values()) free.forEach(DeviceBuffer::close);
        FREE.clear();
        pooledBytes = 0;
    }

    /** Bytes currently kept for reuse. */
    public static synchronized long pooledBytes() { return pooledBytes; }
}
