package dev.kiln.kernels.testing;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import dev.kiln.kernels.verify.ParityResult.Status;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The harness catches broken kernels: perturbed, zeroed, unwritten, out-of-bounds, unsupported, throwing. */
class ParityHarnessTest {
    private static final long SEED = 77;

    private static List<GemmDesc> gemmCases() {
        List<GemmDesc> list = new ArrayList<>();
        for (OpDesc d : Parity.cases(OpKind.GEMM, 0)) list.add((GemmDesc) d);
        return list;
    }

    private static ParityResult check(KernelImpl impl, OpDesc desc) {
        HostTestDevice device = new HostTestDevice();
        ParityResult r = Parity.check(device, impl, desc, SEED);
        assertEquals(device.allocations(), device.closes(), "every device buffer closed for " + desc.opName() + " " + desc.shape());
        return r;
    }

    /** A perturbation of 1e-2 (relative above 1) in the largest element of the first output fails, naming it. */
    @TestFactory
    Stream<DynamicTest> perturbedElementFailsAndIsNamed() {
        List<DynamicTest> tests = new ArrayList<>();
        for (OpKind kind : OpKind.values()) {
            for (OpDesc desc : Parity.cases(kind, 0)) {
                tests.add(DynamicTest.dynamicTest(desc.opName() + " " + desc.shape(), () -> {
                    AtomicLong where = new AtomicLong(-1);
                    ParityResult r = check(Mutants.after(kind, "perturbed", (d, a) -> Mutants.perturb(d, a, where)), desc);
                    assumeReference(r);
                    if (where.get() < 0) {
                        assertTrue(r.passed(), "nothing to perturb, so nothing to find: " + r);
                        return;
                    }
                    assertEquals(Status.FAILED, r.status(), () -> "perturbation missed: " + r);
                    String element = Mutants.firstOutput(desc).arg() + "[" + where.get() + "]";
                    assertTrue(r.message().contains(element), () -> "names " + element + ": " + r.message());
                    for (String part : new String[] {desc.opName(), desc.shape(), "host-test", "perturbed", "seed " + SEED, "got", "expected"})
                        assertTrue(r.message().contains(part), () -> "message names " + part + ": " + r.message());
                    assertTrue(r.worstError() > 0);
                }));
            }
        }
        return tests.stream();
    }

    /** The tolerance is tight enough to see one product missing from every dot product (the last k step skipped). */
    @Test
    void droppedTermIsCaught() {
        int checked = 0;
        for (GemmDesc d : gemmCases()) {
            if (d.m() == 0 || d.n() == 0 || d.k() < 2 || d.activation() != Activation.NONE) continue;
            KernelImpl shortLoop = Mutants.after(OpKind.GEMM, "short-loop", (x, a) -> dropLastTerm(d, a));
            ParityResult r = check(shortLoop, d);
            assertEquals(Status.FAILED, r.status(), r::toString);
            checked++;
        }
        assertTrue(checked > 20, "cases checked: " + checked);
    }

    private static void dropLastTerm(GemmDesc d, Args args) {
        MemorySegment a = args.host(Arg.A), b = args.host(Arg.B), c = args.host(Arg.C);
        boolean f64 = d.dtype() == DType.F64;
        int p = d.k() - 1;
        for (int batch = 0; batch < d.batch(); batch++)
            for (int i = 0; i < d.m(); i++)
                for (int j = 0; j < d.n(); j++) {
                    long ia = batch * d.strideA() + (d.transA() == Transpose.N ? (long) i * d.lda() + p : (long) p * d.lda() + i);
                    long ib = batch * d.strideB() + (d.transB() == Transpose.N ? (long) p * d.ldb() + j : (long) j * d.ldb() + p);
                    long ic = batch * d.strideC() + (long) i * d.ldc() + j;
                    double term = d.alpha() * Mutants.get(a, d.dtype(), ia) * Mutants.get(b, d.dtype(), ib);
                    double v = Mutants.get(c, d.dtype(), ic) - term;
                    if (f64) c.setAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE, ic, v);
                    else c.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, ic, (float) v);
                }
    }

    @Test
    void zeroOutputIsMistrusted() {
        int checked = 0;
        for (GemmDesc d : gemmCases()) {
            if (d.m() == 0 || d.n() == 0 || d.k() == 0 || d.activation() != Activation.NONE) continue;
            ParityResult r = check(Mutants.after(OpKind.GEMM, "zeros", Mutants::zero), d);
            assertEquals(Status.FAILED, r.status(), r::toString);
            assertTrue(r.message().contains("mistrusted: output almost all zero"), r::message);
            checked++;
        }
        assertTrue(checked > 20, "enough GEMM cases with a non-zero reference: " + checked);
    }

    @Test
    void unwrittenElementIsCaughtByThePoison() {
        int checked = 0;
        for (GemmDesc d : gemmCases()) {
            if (d.m() == 0 || d.n() == 0 || d.beta() != 0) continue;
            long skipped = (long) (d.m() / 2) * d.ldc() + d.n() / 2;
            KernelImpl lazy = Mutants.impl(OpKind.GEMM, "lazy", Support.YES, (desc, args) -> {
                MemorySegment c = args.host(Arg.C);
                int elem = d.dtype() == DType.F64 ? 8 : 4;
                byte[] before = c.asSlice(skipped * elem, elem).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                RefKernels.run(desc, args);
                c.asSlice(skipped * elem, elem).copyFrom(MemorySegment.ofArray(before));
            });
            ParityResult r = check(lazy, d);
            assertEquals(Status.FAILED, r.status(), r::toString);
            assertTrue(r.message().contains("C[" + skipped + "]") && r.message().contains("never written"), r::message);
            assertEquals(Double.POSITIVE_INFINITY, r.worstError());
            checked++;
        }
        assertTrue(checked > 20, "cases checked: " + checked);
    }

    @Test
    void writePastTheEndOrIntoAGapIsCaught() {
        GemmDesc tight = GemmDesc.of(13, 7, 5);
        ParityResult past = check(Mutants.after(OpKind.GEMM, "overrun", (d, a) ->
                a.host(Arg.C).setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 13 * 7, 1f)), tight);
        assertEquals(Status.FAILED, past.status());
        assertTrue(past.message().contains("C[91]") && past.message().contains("past the end"), past::message);

        GemmDesc padded = tight.withLeadingDims(5, 7, 10);
        ParityResult gap = check(Mutants.after(OpKind.GEMM, "gap", (d, a) ->
                a.host(Arg.C).setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 8, 0f)), padded);
        assertEquals(Status.FAILED, gap.status());
        assertTrue(gap.message().contains("C[8]") && gap.message().contains("reference writes nothing"), gap::message);
        assertTrue(gap.message().contains("at row 0, column 8"), gap::message);
    }

    @Test
    void unsupportedCarriesTheReason() {
        GemmDesc d = GemmDesc.of(7, 13, 17);
        KernelImpl no = Mutants.impl(OpKind.GEMM, "picky", Support.no("picky: m=7 is not a multiple of 8"), (x, y) -> fail("not planned"));
        HostTestDevice device = new HostTestDevice(kind -> List.of(no));
        ParityResult direct = Parity.check(device, no, d, SEED);
        assertEquals(Status.UNSUPPORTED, direct.status());
        assertEquals("picky: m=7 is not a multiple of 8", direct.message());
        assertFalse(direct.passed());
        ParityResult viaDevice = Parity.check(device, d, SEED);
        assertEquals(Status.UNSUPPORTED, viaDevice.status());
        assertTrue(viaDevice.message().contains("m=7 is not a multiple of 8"), viaDevice::message);
        assertEquals(0, device.allocations(), "nothing allocated for an unsupported case");

        HostTestDevice fallback = new HostTestDevice(kind -> List.of(no, RefKernels.impl(kind)));
        ParityResult second = Parity.check(fallback, d, SEED);
        assertTrue(second.passed(), second::toString);
        assertEquals("ref", second.implementation(), "the first implementation that supports the case is checked");
    }

    @Test
    void throwingKernelFailsAndReleasesEverything() {
        AtomicInteger planClosed = new AtomicInteger();
        KernelImpl boom = new KernelImpl() {
            @Override public String name() { return "boom"; }

            @Override public OpKind kind() { return OpKind.GEMM; }

            @Override public Support supports(OpDesc desc) { return Support.YES; }

            @Override public dev.kiln.kernels.spi.Plan plan(OpDesc desc) {
                return new dev.kiln.kernels.spi.Plan() {
                    @Override public OpDesc desc() { return desc; }

                    @Override public String implementation() { return "boom"; }

                    @Override public void execute(dev.kiln.kernels.spi.Stream s, Args a) { throw new IllegalStateException("kernel launch failed: boom"); }

                    @Override public void close() { planClosed.incrementAndGet(); }
                };
            }
        };
        HostTestDevice device = new HostTestDevice(kind -> List.of(boom));
        ParityResult r = Parity.check(device, GemmDesc.of(17, 33, 7), SEED);
        assertEquals(Status.FAILED, r.status());
        assertTrue(r.message().contains("kernel launch failed: boom") && r.message().contains("seed " + SEED), r::message);
        assertEquals(3, device.allocations(), "A, B and C: of(17, 33, 7) has no bias");
        assertEquals(device.allocations(), device.closes(), "buffers closed although the kernel threw");
        assertEquals(1, planClosed.get(), "the plan was closed");

        KernelImpl noPlan = Mutants.impl(OpKind.GEMM, "noplan", Support.YES, (x, y) -> { });
        HostTestDevice d2 = new HostTestDevice(kind -> List.of(new KernelImpl() {
            @Override public String name() { return "unplannable"; }

            @Override public OpKind kind() { return OpKind.GEMM; }

            @Override public Support supports(OpDesc desc) { return Support.YES; }

            @Override public dev.kiln.kernels.spi.Plan plan(OpDesc desc) { throw new UnsupportedOperationException("no device code for " + desc.opName()); }
        }, noPlan));
        ParityResult r2 = Parity.check(d2, GemmDesc.of(3, 3, 3), SEED);
        assertEquals(Status.FAILED, r2.status());
        assertTrue(r2.message().contains("no device code for gemm"), r2::message);
        assertEquals(d2.allocations(), d2.closes());
    }

    @Test
    void sameSeedSameVerdictAndError() {
        for (OpDesc d : Parity.cases(OpKind.GEMM, 10)) {
            KernelImpl ref = RefKernels.impl(OpKind.GEMM);
            KernelImpl shifted = Mutants.after(OpKind.GEMM, "perturbed", (x, a) -> Mutants.perturb(x, a, new AtomicLong()));
            HostTestDevice device = new HostTestDevice();
            for (KernelImpl impl : List.of(ref, shifted)) {
                ParityResult a = Parity.check(device, impl, d, 5), b = Parity.check(device, impl, d, 5);
                assertEquals(a.status(), b.status());
                assertEquals(a.worstError(), b.worstError());
                assertEquals(a.message(), b.message());
                assertEquals(5, a.seed());
            }
        }
    }

    @Test
    void referenceAgainstItselfIsExactForGemm() {
        for (GemmDesc d : gemmCases()) {
            ParityResult r = check(RefKernels.impl(OpKind.GEMM), d);
            assertTrue(r.passed(), r::toString);
            assertEquals(0, r.worstError(), "the same code on the same inputs: " + r);
            assertEquals("", r.message());
        }
    }

    private static void assumeReference(ParityResult r) {
        Assumptions.assumeFalse(r.message().contains("reference failed"), () -> "reference not available: " + r.message());
    }
}
