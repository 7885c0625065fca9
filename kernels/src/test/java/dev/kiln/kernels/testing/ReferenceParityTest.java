package dev.kiln.kernels.testing;

import dev.kiln.kernels.spi.Device;
import org.junit.jupiter.api.AfterAll;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference kernels checked against themselves on every case of every kind, through the base class:
 * the harness's own sanity run (inputs valid for each op, tolerances not tighter than the reference's own
 * rounding). Afterwards the device must be closed and every buffer the harness allocated released.
 */
class ReferenceParityTest extends ParityTestBase {
    private static HostTestDevice device;

    @Override protected Device openDevice() {
        device = new HostTestDevice();
        return device;
    }

    @Override protected int casesPerKind() { return 0; }

    @AfterAll
    static void deviceClosedAndBuffersReleased() {
        assertTrue(device.isClosed(), "the base class closes the device after the last case");
        assertTrue(device.allocations() > 0, "the cases allocated device buffers");
        assertEquals(device.allocations(), device.closes(), "every device buffer the harness allocated was closed");
    }
}
