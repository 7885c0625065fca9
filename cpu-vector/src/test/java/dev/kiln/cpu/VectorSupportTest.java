package dev.kiln.cpu;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The self-check, width forcing, and routing to the reference when vectors are off. */
class VectorSupportTest {
    @AfterEach void clear() { VectorSupport.overrideBits(null); }

    /** This build runs with the module and a JIT that intrinsifies it, so the check must pass here. */
    @Test void selfCheckPassesHere() {
        assertTrue(VectorSupport.modulePresent(), "tests run with --add-modules " + VectorSupport.MODULE);
        var check = VectorSupport.selfCheck();
        System.out.println("self-check: " + check);
        assertTrue(check.passed(), check.detail());
        assertTrue(check.hardwareBits() >= 128, "hardware width " + check.hardwareBits());
        assertTrue(VectorSupport.status().ok(), VectorSupport.status().reason());
        assertEquals(check.hardwareBits(), VectorSupport.width().bits());
        assertTrue(new CpuDevice().properties().get("vector.selfcheck").startsWith("passed: "));
    }

    @Test void disablingVectorsRoutesToTheReference() {
        CpuDevice device = new CpuDevice();
        GemmDesc gemm = GemmDesc.of(8, 9, 10);
        UnaryDesc unary = new UnaryDesc(UnaryOp.EXP, 100);
        assertEquals("vector-gemm", firstPlan(device, gemm));
        assertEquals("vector-unary", firstPlan(device, unary));

        VectorSupport.overrideBits(0);
        Support no = device.implementations(OpKind.GEMM).getFirst().supports(gemm);
        assertFalse(no.ok());
        assertEquals("vector kernels disabled: VectorSupport.overrideBits(0)", no.reason());
        assertEquals("ref", firstPlan(device, gemm));
        assertEquals("ref", firstPlan(device, unary));
        assertTrue(device.properties().get("vector.kernels").startsWith("off: vector kernels disabled"));

        VectorSupport.overrideBits(null);
        assertEquals("vector-gemm", firstPlan(device, gemm));
    }

    @Test void widthsAboveTheHardwareAreRefusedAndNarrowerOnesUsed() {
        int hw = VectorSupport.hardwareBits();
        for (int bits : new int[] {128, 256, 512}) {
            VectorSupport.overrideBits(bits);
            if (bits <= hw) {
                assertTrue(VectorSupport.status().ok(), VectorSupport.status().reason());
                assertEquals(bits, VectorSupport.width().bits());
                assertEquals(bits / 32, VectorSupport.width().floats().length());
            } else {
                assertFalse(VectorSupport.status().ok());
                assertTrue(VectorSupport.status().reason().contains("exceeds the hardware's " + hw + "-bit vectors"));
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VectorSupport.overrideBits(64));
        assertEquals("vector width override must be 0, 128, 256 or 512, got 64", e.getMessage());
    }

    @Test void planningAnUnsupportedCaseNamesTheReason() {
        VectorSupport.overrideBits(0);
        KernelImpl vector = new CpuDevice().implementations(OpKind.UNARY).getFirst();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vector.plan(new UnaryDesc(UnaryOp.EXP, 5)));
        assertEquals("exp: vector-unary cannot run count=5: vector kernels disabled: VectorSupport.overrideBits(0)", e.getMessage());
    }

    private static String firstPlan(CpuDevice device, dev.kiln.kernels.desc.OpDesc desc) {
        for (KernelImpl impl : device.implementations(desc.kind())) {
            if (!impl.supports(desc).ok()) continue;
            try (Plan plan = impl.plan(desc)) {
                return plan.implementation();
            }
        }
        throw new AssertionError("nothing takes " + desc.shape());
    }
}
