package dev.kiln.nn;

import dev.kiln.kernels.spi.DeviceBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class BufferPoolTest {
    @Test void aClosedScopesBuffersAreReusedAndClearFreesThem() {
        BufferPool.clear();
        DeviceBuffer first;
        try (Scope s = Scope.open()) {
            first = Tensor.empty(1000).buffer();
        }
        assertFalse(first.isClosed(), "kept for reuse");
        assertEquals(4000, BufferPool.pooledBytes());
        try (Scope s = Scope.open()) {
            Tensor again = Tensor.empty(10, 100);
            assertSame(first, again.buffer(), "the same size takes the pooled buffer");
            assertEquals(0, BufferPool.pooledBytes());
            Tensor other = Tensor.empty(999);
            assertNotSame(first, other.buffer());
            assertThrows(IllegalStateException.class, () -> {
                Tensor t = Tensor.empty(3);
                t.close();
                t.toArray();
            }, "a closed tensor stays unusable even though its buffer lives on");
        }
        assertEquals(4000 + 3996 + 12, BufferPool.pooledBytes());
        BufferPool.clear();
        assertTrue(first.isClosed());
        assertEquals(0, BufferPool.pooledBytes());
    }
}
