package dev.kiln.cpu;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import dev.kiln.kernels.testing.ParityTestBase;
import org.junit.jupiter.api.AfterAll;

import java.util.EnumSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parity suite over the families with vector kernels, under a forced vector width and thread count.
 * A width above the hardware's is skipped with the reason (the Vector API would emulate it, slowly).
 * Each subclass runs in its own JVM (surefire reuseForks=false), so its width is the only one C2 sees.
 * Each case also asserts that the forcing reached the kernels: vector kernels on (so the vector
 * implementation runs wherever it takes the case), or with vectors off, that they say why and the
 * reference runs.
 */
abstract class ForcedParityTest extends ParityTestBase {
    private static int previousThreads;

    /** Families whose vector kernels take every f32 descriptor the reference does. */
    private static final Set<OpKind> EVERY_CASE_VECTOR = EnumSet.of(OpKind.UNARY, OpKind.BINARY, OpKind.REDUCE, OpKind.SOFTMAX, OpKind.PIXEL_SHUFFLE, OpKind.BLAS1);

    /** Vector width in bits (0: scalar only), or -1 for the hardware's. */
    abstract int bits();

    /** Threads, or 0 for the default. */
    int threads() { return 0; }

    @Override protected Set<OpKind> kinds() {
        return EnumSet.of(OpKind.GEMM, OpKind.UNARY, OpKind.BINARY, OpKind.REDUCE, OpKind.SOFTMAX, OpKind.CONV, OpKind.POOL,
                OpKind.QGEMM, OpKind.NORM, OpKind.PIXEL_SHUFFLE, OpKind.BLAS1);
    }

    /** Fewer cases than the default suite: these runs repeat it under other settings. */
    @Override protected int casesPerKind() { return 24; }

    @Override protected String skipReason() {
        return bits() + "-bit vectors forced, but the hardware's widest species is " + VectorSupport.hardwareBits()
                + " bits (would be emulated)";
    }

    @Override protected Device openDevice() {
        if (bits() > VectorSupport.hardwareBits()) {
            System.out.println(getClass().getSimpleName() + " skipped: " + skipReason());
            return null;
        }
        previousThreads = CpuThreads.threads();
        if (bits() >= 0) VectorSupport.overrideBits(bits());
        if (threads() > 0) CpuThreads.setThreads(threads());
        return new CpuDevice();
    }

    @Override protected KernelImpl implementation(OpDesc desc) {
        CpuDevice device = new CpuDevice();
        KernelImpl vector = device.implementations(desc.kind()).getFirst();
        if (bits() == 0) {
            assertEquals("vector kernels disabled: VectorSupport.overrideBits(0)", vector.supports(desc).reason());
            return device.implementations(desc.kind()).getLast();
        }
        Support status = VectorSupport.status();
        assertTrue(status.ok(), "vector kernels should be on: " + status.reason());
        if (EVERY_CASE_VECTOR.contains(desc.kind())) {
            // These families have a vector path for every f32 case: a decline would hide a fallback to the reference.
            assertTrue(vector.supports(desc).ok(), vector.name() + " declined: " + vector.supports(desc).reason());
            return vector;
        }
        return null; // the device's first supporting implementation: the vector one where it takes the case
    }

    @AfterAll static void restore() {
        VectorSupport.overrideBits(null);
        if (previousThreads > 0) CpuThreads.setThreads(previousThreads);
    }
}
