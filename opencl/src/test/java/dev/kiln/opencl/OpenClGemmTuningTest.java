package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * GEMM variants and the autotuner: the fastest of fake timings wins, the tuning cache round-trips and
 * serves later runs without tuning, corrupt entries are ignored with a message, a real tuning run on the
 * device stores a candidate, every variant passes the GEMM parity cases, and the trace names the variant,
 * its source and (with profiling) each kernel's device time. One device for the class, so each variant's
 * program is built once.
 */
@Isolated // swaps System.err and sets kiln.verbose
class OpenClGemmTuningTest {
    private static OpenClDevice device;
    private static final GemmDesc SQUARE = GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 100, 90, 80, 1, 0);

    @BeforeAll static void open() { device = OpenClTesting.PROBE.available() ? OpenClTesting.firstDevice() : null; }

    @AfterAll static void close() {
        if (device != null) device.close();
    }

    private static OpenClDevice device() {
        if (device == null) OpenClTesting.firstDevice(); // aborts with the probe's reason
        return device;
    }

    @Test void theFastestOfFakeTimingsWinsAndFailuresAreSkipped() {
        List<GemmVariant> c = GemmVariant.CANDIDATES;
        Map<GemmVariant, Double> times = Map.of(c.get(0), 3.0, c.get(1), 2.0, c.get(2), 0.5, c.get(3), 0.7, c.get(4), 0.6,
                c.get(5), 1.0, c.get(6), 0.9);
        List<String> notes = new ArrayList<>();
        assertEquals(c.get(2), GemmTuner.fastest(c, times::get, DType.F32, notes::add));
        assertTrue(notes.isEmpty(), notes.toString());
        // The winner failing: the next fastest wins, and the failure is noted.
        GemmTuner.Timer failing = v -> {
            if (v.equals(c.get(2))) throw new IllegalStateException("CL_OUT_OF_RESOURCES");
            return times.get(v);
        };
        assertEquals(c.get(4), GemmTuner.fastest(c, failing, DType.F32, notes::add));
        assertEquals(1, notes.size());
        assertTrue(notes.getFirst().contains("8x32k256") && notes.getFirst().contains("CL_OUT_OF_RESOURCES"), notes.getFirst());
        assertNull(GemmTuner.fastest(c, v -> { throw new IllegalStateException("no"); }, DType.F32, notes::add));
    }

    @Test void shapeClassesBucketExtentsAndKeepTransposesAndDtype() {
        assertEquals("f32-NN-m1024-n1024-k1024", GemmTuner.shapeClass(GemmDesc.of(1024, 1024, 1024)));
        assertEquals("f32-NN-m1024-n1024-k1024", GemmTuner.shapeClass(GemmDesc.of(1000, 300, 257)));
        assertEquals("f64-TN-m16-n4096-k64", GemmTuner.shapeClass(GemmDesc.of(DType.F64, Transpose.T, Transpose.N, 1, 9000, 17, 1, 0)));
    }

    @Test void variantsRoundTripThroughTheirEncodingAndBadOnesAreRefused() {
        for (GemmVariant v : GemmVariant.CANDIDATES) assertEquals(v, GemmVariant.decode(v.encode()));
        assertEquals("8x32k256", GemmVariant.CANDIDATES.get(2).name(DType.F32));
        assertEquals("8x16k256", GemmVariant.CANDIDATES.get(2).name(DType.F64));
        assertThrows(IllegalArgumentException.class, () -> GemmVariant.decode("8,2,256"));
        assertThrows(IllegalArgumentException.class, () -> GemmVariant.decode("8,x,256,4,8"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmVariant.decode("3,2,256,4,8"));
        assertTrue(e.getMessage().contains("rows=3"), e.getMessage());
        assertEquals(GemmVariant.PLAIN, GemmVariant.defaultFor(DeviceKind.GPU, 16));
        assertEquals("6x64p", GemmVariant.defaultFor(DeviceKind.CPU, 16).name(DType.F32));
        assertEquals("6,4,0,1,64,packB", GemmVariant.defaultFor(DeviceKind.CPU, 16).encode());
        // In place (small m, OpenClConvGemm) the packing default is the previous default, 6x64k256 in groups of 1x16.
        assertEquals(GemmVariant.CANDIDATES.get(4), GemmVariant.defaultFor(DeviceKind.CPU, 16).inPlace());
        e = assertThrows(IllegalArgumentException.class, () -> GemmVariant.decode("6,4,256,1,16,pack"));
        assertTrue(e.getMessage().contains("packB"), e.getMessage());
        assertEquals("4x16k256", GemmVariant.defaultFor(DeviceKind.CPU, 8).name(DType.F32));
    }

    @Test void aTunedWinnerIsStoredAndLaterRunsUseItWithoutTuning(@TempDir Path dir) {
        GemmVariant fallback = GemmVariant.PLAIN, winner = GemmVariant.CANDIDATES.get(5);
        List<String> warnings = new ArrayList<>();
        GemmTuner first = new GemmTuner(dir, "source v1", fallback, warnings::add);
        assertEquals(new GemmTuner.Choice(fallback, "default"), first.choose(SQUARE, false, null));
        GemmTuner.Choice tuned = first.choose(SQUARE, true, v -> v.equals(winner) ? 0.001 : 0.002);
        assertEquals(new GemmTuner.Choice(winner, "tuned now"), tuned);
        assertTrue(Files.isRegularFile(first.entry(GemmTuner.shapeClass(SQUARE))));

        GemmTuner later = new GemmTuner(dir, "source v1", fallback, warnings::add);
        GemmTuner.Timer mustNotRun = v -> fail("a cached class must not be tuned again");
        assertEquals(new GemmTuner.Choice(winner, "tuning cache"), later.choose(SQUARE, true, mustNotRun));
        assertEquals(new GemmTuner.Choice(winner, "tuning cache"), new GemmTuner(dir, "source v1", fallback, warnings::add)
                .choose(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 200, 150, 250, 1, 0), false, null), "same class");
        // An edited source is a different key: its classes start untuned.
        assertEquals(new GemmTuner.Choice(fallback, "default"), new GemmTuner(dir, "source v2", fallback, warnings::add)
                .choose(SQUARE, false, null));
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test void aCorruptTuningEntryIsIgnoredWithAMessage(@TempDir Path dir) throws IOException {
        GemmVariant fallback = GemmVariant.PLAIN;
        String cls = GemmTuner.shapeClass(SQUARE);
        for (String content : List.of("garbage\n", "variant=8,2\n", "variant=3,2,256,4,8\n", "variant=8,2,256,4,9\n", "")) {
            List<String> warnings = new ArrayList<>();
            GemmTuner tuner = new GemmTuner(dir, "src", fallback, warnings::add);
            Files.writeString(tuner.entry(cls), content, StandardCharsets.UTF_8);
            assertEquals(new GemmTuner.Choice(fallback, "default"), tuner.choose(SQUARE, false, null), content);
            assertEquals(1, warnings.size(), content + ": " + warnings);
            assertTrue(warnings.getFirst().contains("ignoring tuning entry") && warnings.getFirst().contains(cls), warnings.getFirst());
            // With tuning on, the corrupt entry is replaced by a fresh result.
            GemmTuner.Choice retuned = new GemmTuner(dir, "src", fallback, warnings::add).choose(SQUARE, true, v -> 1.0);
            assertEquals("tuned now", retuned.source());
            assertEquals(GemmVariant.CANDIDATES.getFirst(), new GemmTuner(dir, "src", fallback, warnings::add).read(cls));
            Files.delete(tuner.entry(cls));
        }
    }

    /**
     * The device timer on two variants (the plain one and the device default, which other tests build anyway:
     * each further variant costs a second or two of driver compilation on POCL), and its operands released.
     */
    @Test void theDeviceTimerTimesVariantsWithQueueEvents() {
        OpenClDevice d = device();
        GemmDesc small = GemmDesc.of(DType.F32, Transpose.N, Transpose.T, 70, 50, 40, 1, 0);
        List<GemmVariant> two = List.of(GemmVariant.PLAIN, GemmVariant.defaultFor(d));
        List<Double> seen = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        List<ClLive.Kind> released = List.of(ClLive.Kind.KERNEL, ClLive.Kind.MEM, ClLive.Kind.QUEUE, ClLive.Kind.EVENT);
        List<Long> before = released.stream().map(ClLive::live).toList();
        GemmVariant best;
        try (GemmTuner.Bench bench = new GemmTuner.Bench(d, small)) {
            best = GemmTuner.fastest(two, v -> {
                double s = bench.seconds(v);
                seen.add(s);
                return s;
            }, DType.F32, notes::add);
        }
        assertTrue(two.contains(best), String.valueOf(best));
        assertEquals(2, seen.size());
        for (double s : seen) assertTrue(s > 0 && s < 10, "event time " + s + " s");
        assertTrue(notes.isEmpty(), notes.toString());
        // Programs stay cached on the device; kernels, buffers, the profiling queue and its events are gone.
        assertEquals(before, released.stream().map(ClLive::live).toList(), ClLive.summary());
    }

    /** Every candidate against the reference on a spread of the GEMM parity cases (edges, transposes, epilogues, f64). */
    @TestFactory List<DynamicTest> everyVariantPassesGemmParity() {
        OpenClDevice d = device();
        List<OpDesc> spread = new ArrayList<>(Parity.cases(OpKind.GEMM, 14));
        // Plus every empty-k case (the k-block loop never runs: only alpha, beta, bias and activation act).
        for (OpDesc c : Parity.cases(OpKind.GEMM, 0))
            if (c instanceof GemmDesc g && g.k() == 0 && g.dtype() == DType.F32 && !spread.contains(c)) spread.add(c);
        List<OpDesc> withF64 = new ArrayList<>(spread);
        // The spread holds f32 cases only; every fourth f64 case joins it for the plain and the default variant
        // (each f64 build costs the driver a few seconds; OpenClParityTest runs every f64 case on the default).
        List<OpDesc> doubles = Parity.cases(OpKind.GEMM, 0).stream().filter(c -> c.dtype() == DType.F64).toList();
        for (int i = 0; i < doubles.size(); i += 4) withF64.add(doubles.get(i));
        List<DynamicTest> tests = new ArrayList<>();
        for (GemmVariant v : GemmVariant.CANDIDATES) {
            boolean doF64 = v.equals(GemmVariant.PLAIN) || v.equals(GemmVariant.defaultFor(d));
            List<OpDesc> cases = doF64 ? withF64 : spread;
            tests.add(DynamicTest.dynamicTest(v.name(DType.F32), () -> {
                OpenClGemm impl = new OpenClGemm(d, v);
                int ran = 0, f64 = 0;
                for (OpDesc c : cases) {
                    if (!impl.supports(c).ok()) continue;
                    ParityResult r = Parity.check(d, impl, c, 11);
                    assertTrue(r.passed(), v.name(DType.F32) + ": " + r);
                    ran++;
                    if (c.dtype() == DType.F64) f64++;
                }
                assertTrue(ran >= cases.size() - 1, "ran " + ran + " of " + cases.size());
                assertTrue(!doF64 || f64 > 0 || !d.fp64(), "no f64 case among " + cases.size());
            }));
        }
        return tests;
    }

    /** When a packing variant packs: enough rows to reuse the panels or a transposed B, k > 0, a B that fits the scratch. */
    @Test void packingIsChosenOnlyWhereItPays() {
        GemmVariant packed = GemmVariant.defaultFor(DeviceKind.CPU, 16);
        long mib = 64L << 20;
        assertEquals(1, OpenClGemm.packChunk(GemmDesc.of(1024, 1024, 1024), packed, mib));
        assertEquals(0, OpenClGemm.packChunk(GemmDesc.of(1024, 1024, 1024), packed.inPlace(), mib), "not a packing variant");
        assertEquals(0, OpenClGemm.packChunk(GemmDesc.of(384, 1024, 1024), packed, mib), "one work-group's rows (6 x 64)");
        assertEquals(1, OpenClGemm.packChunk(GemmDesc.of(385, 1024, 1024), packed, mib));
        assertEquals(1, OpenClGemm.packChunk(GemmDesc.of(DType.F32, Transpose.N, Transpose.T, 5, 33, 7, 1, 0), packed, mib), "transposed B");
        assertEquals(0, OpenClGemm.packChunk(GemmDesc.of(1024, 1024, 0), packed, mib), "k = 0 reads no B");
        assertEquals(0, OpenClGemm.packChunk(GemmDesc.of(1024, 1024, 1024), packed, (4L << 20) - 1), "B above the scratch");
        // n = 90 packs as 2 panels of 64: 128 x 80 floats per matrix, so 40960 bytes each.
        GemmDesc batch = GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 400, 90, 80, 1, 0).withBatch(5, 32000, 7200, 36000);
        assertEquals(5, OpenClGemm.packChunk(batch, packed, mib));
        assertEquals(2, OpenClGemm.packChunk(batch, packed, 2 * 40960 + 100));
    }

    /**
     * The packing plan against the reference: every transpose with edge tiles in both directions, a transposed
     * B with few rows, leading dimensions beyond the extents, an epilogue with beta, a batch packed in chunks
     * of two (the last chunk of one), f64; each plan must really pack (its name ends in p).
     */
    @Test void packingPlansMatchTheReference() {
        OpenClDevice d = device();
        GemmVariant packed = GemmVariant.defaultFor(DeviceKind.CPU, 16);
        List<GemmDesc> cases = new ArrayList<>();
        for (Transpose ta : Transpose.values())
            for (Transpose tb : Transpose.values()) cases.add(GemmDesc.of(DType.F32, ta, tb, 389, 70, 257, 1.5, 0.5));
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.T, 5, 33, 7, 1, 0));
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 400, 65, 40, 1, 0).withLeadingDims(50, 70, 66));
        GemmDesc batch = GemmDesc.of(DType.F32, Transpose.T, Transpose.N, 390, 90, 80, 0.5, 2).withBatch(5, 31200, 7203, 35100)
                .withEpilogue(true, Activation.GELU);
        cases.add(batch);
        if (d.fp64()) cases.add(GemmDesc.of(DType.F64, Transpose.N, Transpose.T, 131, 70, 33, 1, 0.25).withEpilogue(true, Activation.RELU));
        OpenClGemm impl = new OpenClGemm(d, packed);
        for (GemmDesc c : cases) checkPacked(d, impl, c);
        // Scratch for two of the five packed Bs (2 panels x 64 x 80 floats each): chunks of 2, 2 and 1.
        assertEquals(2, OpenClGemm.packChunk(batch, packed, 2 * 40960 + 100));
        checkPacked(d, new OpenClGemm(d, packed, 2 * 40960 + 100), batch);
    }

    private static void checkPacked(OpenClDevice d, OpenClGemm impl, GemmDesc c) {
        try (Plan p = impl.plan(c)) {
            assertTrue(p.implementation().endsWith("p"), c.shape() + ": " + p.implementation());
        }
        ParityResult r = Parity.check(d, impl, c, 13);
        assertTrue(r.passed(), r.toString());
    }

    @Test void theTraceNamesTheVariantAndWhereItCameFrom() {
        OpenClDevice d = device();
        // A class no other test stores (f32, TT, ~64^3), so it starts at the default in a fresh target folder.
        GemmDesc desc = GemmDesc.of(DType.F32, Transpose.T, Transpose.T, 61, 62, 63, 1, 0);
        String cls = GemmTuner.shapeClass(desc);
        Path entry = d.gemmTuner().entry(cls);
        try {
            if (entry != null) Files.deleteIfExists(entry);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        String out = traced(() -> {
            try (Plan p = new OpenClGemm(d).plan(desc)) {
                assertEquals("opencl-gemm-" + GemmVariant.defaultFor(d).name(DType.F32), p.implementation());
            }
        });
        assertTrue(out.contains("variant " + GemmVariant.defaultFor(d).name(DType.F32) + " (default)") && out.contains(cls), out);
        if (entry == null) return; // binary cache off: nothing on disk to come back from
        GemmVariant stored = GemmVariant.CANDIDATES.get(3);
        // A fresh tuner (a later run) over the same folder finds the entry.
        GemmTuner tuner = new GemmTuner(entry.getParent(), OpenClGemm.SOURCE, GemmVariant.defaultFor(d), System.err::println);
        tuner.write(cls, stored);
        try {
            assertEquals(new GemmTuner.Choice(stored, "tuning cache"), tuner.choose(desc, false, null));
        } finally {
            try {
                Files.deleteIfExists(entry);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test void withProfilingTheTraceAndTotalsCarryEachKernelsDeviceTime() {
        device(); // aborts without a device
        String before = System.getProperty("kiln.opencl.profile");
        System.setProperty("kiln.opencl.profile", "true");
        OpenClDevice d;
        try {
            d = OpenClTesting.firstDevice();
        } finally {
            if (before == null) System.clearProperty("kiln.opencl.profile");
            else System.setProperty("kiln.opencl.profile", before);
        }
        try (d) {
            assertTrue(d.profiling());
            GemmDesc desc = GemmDesc.of(40, 33, 20);
            long launches = d.kernelTimes().launches();
            String out = traced(() -> {
                try (Plan p = new OpenClGemm(d).plan(desc);
                     OpenClBuffer a = d.allocate(DType.F32, 40 * 20); OpenClBuffer b = d.allocate(DType.F32, 20 * 33);
                     OpenClBuffer c = d.allocate(DType.F32, 40 * 33)) {
                    p.execute(d.defaultStream(), Args.of(Arg.A, a, Arg.B, b, Arg.C, c));
                    d.defaultStream().synchronize();
                }
            });
            assertEquals(launches + 1, d.kernelTimes().launches());
            assertTrue(d.kernelTimes().nanos() > 0);
            assertTrue(out.matches("(?s).*opencl kernel gemm_f32\\[[0-9x]+(k[0-9]+)?p?] [0-9.]+ ms.*"), out);
        }
    }

    /** What {@code body} prints to stderr with kiln.verbose=dispatch. */
    private static String traced(Runnable body) {
        PrintStream err = System.err;
        String verbose = System.getProperty("kiln.verbose");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        System.setProperty("kiln.verbose", "dispatch");
        try {
            body.run();
        } finally {
            System.setErr(err);
            if (verbose == null) System.clearProperty("kiln.verbose");
            else System.setProperty("kiln.verbose", verbose);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        err.print(out);
        return out;
    }
}
