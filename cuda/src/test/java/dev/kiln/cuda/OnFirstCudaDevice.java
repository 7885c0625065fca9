package dev.kiln.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * Base of the GPU-only test classes: the first CUDA device ({@link FirstCudaDevice}) opened before the class's
 * tests and closed after them, and every test skipped, visibly and with the probe's reason, when there is none.
 * (Test classes run one after another in this module, so the static device belongs to one class at a time.)
 */
abstract class OnFirstCudaDevice {
    static CudaDevice device;
    static String reason;

    @BeforeAll
    static void openFirstDevice() {
        FirstCudaDevice first = FirstCudaDevice.open();
        device = first.device();
        reason = first.reason();
        if (device != null) System.out.println("cuda device: " + device.properties());
    }

    @BeforeEach
    void needDevice() {
        Assumptions.assumeTrue(device != null, reason);
    }

    @AfterAll
    static void closeFirstDevice() {
        if (device != null) device.close();
        device = null;
    }
}
