package dev.kiln.cpu.conv;

import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The depthwise paths beside ConvParityTest's shared list: against the reference, more channels than one
 * backward-weights task takes, the forward with horizontal stride 2, other paddings and DepthwiseWindow's rows
 * at every width; the main ones on 1 and 2 threads, bit for bit; the planes done element by element against the vector
 * planes, bit for bit; and operands that are not native segments (a caller's {@code float[]} views, at an offset inside a
 * larger array), which run on native copies ({@link NativeSegments#staged}): the same bits as on native
 * buffers, and the array elements around each view left alone.
 */
class DepthwiseTest {
    /** Guard floats on either side of each view; they must keep this value. */
    private static final float GUARD = 12345.5f;
    private static final int MARGIN = 5;

    /**
     * Against the reference, at the hardware's width: more channels than one backward-weights task takes
     * (Depthwise3x3.BLOCK = 256), so the second channel block and its offsets into the partial sums are covered;
     * small planes keep the reference fast; and forward with horizontal stride 2. (Kept here rather than in
     * ConvParityTest's shared list.)
     */
    @TestFactory Stream<DynamicTest> casesMatchReference() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Width w = VectorSupport.width();
        List<ConvDesc> cases = new ArrayList<>();
        for (ConvPass pass : ConvPass.values())
            cases.add(ConvDesc.conv2d(2, 300, 7, 19, 300, 3, 3, 1, 1).withGroups(300).withPass(pass).withBias(pass != ConvPass.BACKWARD_DATA));
        // horizontal stride 2 (Depthwise3x3.forwardStride2): rows of several vectors at every width, odd widths, a
        // channel multiplier, vertical stride 1 with horizontal dilation 2 and unequal padding, a row of one output
        cases.add(ConvDesc.conv2d(2, 5, 9, 67, 5, 3, 3, 2, 1).withGroups(5).withBias(true));
        cases.add(ConvDesc.conv2d(3, 4, 12, 41, 8, 3, 3, 2, 0).withGroups(4));
        cases.add(new ConvDesc(2, 3, 10, 50, 3, 3, 3, 1, 2, 2, 1, 1, 2, 3, false, 0, 0, ConvPass.FORWARD, true, dev.kiln.kernels.DType.F32));
        cases.add(ConvDesc.conv2d(2, 3, 5, 3, 3, 3, 3, 2, 1).withGroups(3));
        // unit stride, other paddings: with pad 0 the right column and with pad 2 also the centre column leaves the
        // row, so every one of the three column sums is masked somewhere; the same for backward-data (its offsets
        // are pad - 2); and the single-row loop: dilation 2 with unequal padding, vertical stride 2
        for (int pad : new int[] {0, 2})
            for (ConvPass pass : List.of(ConvPass.FORWARD, ConvPass.BACKWARD_DATA))
                cases.add(ConvDesc.conv2d(2, 5, 9, 37, 5, 3, 3, 1, pad).withGroups(5).withPass(pass).withBias(pass == ConvPass.FORWARD));
        cases.add(new ConvDesc(2, 3, 10, 50, 3, 3, 3, 1, 1, 2, 1, 2, 2, 3, false, 0, 0, ConvPass.FORWARD, true, dev.kiln.kernels.DType.F32));
        cases.add(new ConvDesc(2, 4, 11, 30, 4, 3, 3, 2, 1, 1, 1, 1, 1, 4, false, 0, 0, ConvPass.FORWARD, true, dev.kiln.kernels.DType.F32));
        List<DynamicTest> tests = new ArrayList<>();
        ConvParityTest.add(tests, new dev.kiln.cpu.CpuDevice(), ConvImpls.conv(w), cases, 3100);
        return tests.stream();
    }

    /**
     * Backward-data and backward-weights with horizontal stride 2 (the row loops' two-vector even-column paths in
     * VectorDepthwise) against the reference at every width the hardware has (forced in this JVM; small shapes):
     * C 2 (a single-channel depthwise is a dense convolution, not routed here), 7 and 33, rows of several vectors
     * at every width with odd widths, a 5x5 window, a channel multiplier of 2, and rows shorter than one vector.
     */
    @TestFactory Stream<DynamicTest> stride2BackwardAtEveryWidth() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        List<ConvDesc> cases = new ArrayList<>();
        for (ConvPass pass : List.of(ConvPass.BACKWARD_DATA, ConvPass.BACKWARD_WEIGHTS)) {
            boolean bias = pass == ConvPass.BACKWARD_WEIGHTS;
            cases.add(ConvDesc.conv2d(2, 2, 9, 67, 2, 3, 3, 2, 1).withGroups(2).withPass(pass).withBias(bias));
            cases.add(ConvDesc.conv2d(3, 7, 8, 57, 7, 3, 3, 2, 1).withGroups(7).withPass(pass).withBias(bias));
            cases.add(ConvDesc.conv2d(2, 33, 7, 33, 33, 3, 3, 2, 1).withGroups(33).withPass(pass).withBias(bias));
            cases.add(ConvDesc.conv2d(2, 7, 11, 70, 14, 5, 5, 2, 2).withGroups(7).withPass(pass).withBias(bias));
            cases.add(ConvDesc.conv2d(2, 7, 7, 7, 7, 3, 3, 2, 1).withGroups(7).withPass(pass).withBias(bias));
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (int bits : new int[] {128, 256, 512}) {
            if (bits > VectorSupport.hardwareBits()) {
                System.out.println("DepthwiseTest: " + bits + "-bit widths skipped, the hardware's widest are " + VectorSupport.hardwareBits() + " bits");
                continue;
            }
            ConvParityTest.add(tests, new dev.kiln.cpu.CpuDevice(), ConvImpls.conv(Width.of(bits)), cases, 3300 + bits);
        }
        return tests.stream();
    }

    /**
     * DepthwiseWindow (3x3, stride 1, pad 1, rows longer than one vector and shorter than two) against the reference
     * at every width the hardware has (forced in this JVM): the shortest and longest rows it takes, 28 and 14, planes
     * of 3, 4 and 7 rows (no inner vectors, a few), every pass (bias in forward and backward-weights), several channels so that
     * some planes sit inside the tensor and take it while the first and last do not.
     */
    @TestFactory Stream<DynamicTest> windowRowsAtEveryWidth() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        List<DynamicTest> tests = new ArrayList<>();
        for (int bits : new int[] {128, 256, 512}) {
            if (bits > VectorSupport.hardwareBits()) {
                System.out.println("DepthwiseTest: " + bits + "-bit widths skipped, the hardware's widest are " + VectorSupport.hardwareBits() + " bits");
                continue;
            }
            int l = bits / 32;
            List<ConvDesc> cases = new ArrayList<>();
            for (int wd : new int[] {l + 1, 2 * l - 1, 14, 28})
                for (int h : new int[] {3, 4, 7})
                    for (ConvPass pass : ConvPass.values())
                        cases.add(ConvDesc.conv2d(2, 5, h, wd, 5, 3, 3, 1, 1).withGroups(5).withPass(pass).withBias(pass != ConvPass.BACKWARD_DATA));
            ConvParityTest.add(tests, new dev.kiln.cpu.CpuDevice(), ConvImpls.conv(Width.of(bits)), cases, 3500 + bits);
        }
        return tests.stream();
    }

    /** The paths added here give the same bits on 1 and 2 threads (tasks are cut by rules that ignore the thread count). */
    @TestFactory Stream<DynamicTest> oneAndTwoThreadsAgree() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Width w = VectorSupport.width();
        List<ConvDesc> cases = List.of(ConvDesc.conv2d(3, 5, 9, 67, 10, 3, 3, 2, 1).withGroups(5).withBias(true),
                ConvDesc.conv2d(5, 300, 7, 19, 300, 3, 3, 1, 1).withGroups(300).withPass(ConvPass.BACKWARD_WEIGHTS).withBias(true),
                ConvDesc.conv2d(4, 33, 9, 67, 33, 3, 3, 2, 1).withGroups(33).withPass(ConvPass.BACKWARD_DATA),
                ConvDesc.conv2d(4, 33, 9, 67, 33, 3, 3, 2, 1).withGroups(33).withPass(ConvPass.BACKWARD_WEIGHTS),
                // stride 1: 128 planes of 391 floats, so several tasks of whole planes (Depthwise3x3.eachPlane)
                ConvDesc.conv2d(2, 64, 17, 23, 64, 3, 3, 1, 1).withGroups(64).withBias(true),
                ConvDesc.conv2d(2, 64, 17, 23, 64, 3, 3, 1, 1).withGroups(64).withPass(ConvPass.BACKWARD_DATA));
        return cases.stream().map(d -> DynamicTest.dynamicTest(d.shape() + " " + d.pass(), () -> ConvThreadsTest.check(w, d)));
    }

    /**
     * The planes at either end of a tensor, which Depthwise3x3 computes element by element (their vector loads
     * would reach outside it), get the same bits as the planes between them, which run the vector loop: every
     * channel gets the same input plane and the same taps, so every output plane must be identical.
     */
    @TestFactory Stream<DynamicTest> endPlanesMatchVectorPlanes() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Width w = VectorSupport.width();
        List<ConvDesc> cases = new ArrayList<>();
        for (int wd : new int[] {37, w.floats().length() + 3}) // the row loop; DepthwiseWindow in the middle planes
            for (int pad : new int[] {1, 2}) {
                cases.add(ConvDesc.conv2d(1, 6, 9, wd, 6, 3, 3, 1, pad).withGroups(6).withBias(true));
                cases.add(ConvDesc.conv2d(1, 6, 9, wd, 6, 3, 3, 1, pad).withGroups(6).withPass(ConvPass.BACKWARD_DATA));
            }
        return cases.stream().map(d -> DynamicTest.dynamicTest(d.shape() + " " + d.pass(), () -> samePlanes(w, d)));
    }

    private static void samePlanes(Width w, ConvDesc d) {
        SplittableRandom rnd = new SplittableRandom(ConvParityTest.SEED + d.hashCode());
        boolean fwd = d.pass() == ConvPass.FORWARD;
        int channels = d.c(), in = fwd ? d.h() * d.w() : d.p() * d.q(), out = fwd ? d.p() * d.q() : d.h() * d.w();
        float[] plane = new float[in], taps = new float[9];
        for (int i = 0; i < in; i++) plane[i] = (float) (rnd.nextDouble() * 2 - 1);
        for (int i = 0; i < 9; i++) taps[i] = (float) (rnd.nextDouble() * 2 - 1);
        float bias = 0.375f;
        List<HostBuffer> owned = new ArrayList<>();
        try {
            Args a = Args.of();
            for (ArgSpec spec : d.args()) {
                HostBuffer b = HostBuffer.allocate(null, spec.dtype(), spec.count());
                owned.add(b);
                MemorySegment seg = b.hostSegment();
                for (long i = 0; i < spec.count(); i++) {
                    float v = switch (spec.arg()) {
                        case SRC, DIFF_DST -> plane[(int) (i % in)];
                        case WEIGHTS -> taps[(int) (i % 9)];
                        case BIAS -> bias;
                        default -> Float.NaN; // outputs: poisoned
                    };
                    seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
                }
                a.put(spec.arg(), b);
            }
            try (Plan plan = ConvImpls.conv(w).plan(d)) {
                plan.execute(null, a);
            }
            float[] result = a.host(fwd ? dev.kiln.kernels.desc.Arg.DST : dev.kiln.kernels.desc.Arg.DIFF_SRC).toArray(ValueLayout.JAVA_FLOAT);
            float[] middle = java.util.Arrays.copyOfRange(result, out, 2 * out);
            for (float v : middle) assertTrue(!Float.isNaN(v), d.shape() + ": a middle plane was not written");
            for (int c = 0; c < channels; c++)
                assertArrayEquals(middle, java.util.Arrays.copyOfRange(result, c * out, (c + 1) * out), 0f,
                        d.shape() + " " + d.pass() + ": plane " + c + " differs from plane 1");
        } finally {
            for (HostBuffer b : owned) b.close();
        }
    }

    @TestFactory Stream<DynamicTest> heapOperandsMatchNative() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Width w = VectorSupport.width();
        List<ConvDesc> shapes = List.of(ConvDesc.conv2d(3, 16, 21, 19, 16, 3, 3, 1, 1).withGroups(16), // Depthwise3x3
                ConvDesc.conv2d(2, 8, 13, 37, 16, 3, 3, 1, 1).withGroups(8), // multiplier 2
                ConvDesc.conv2d(2, 6, 11, 9, 6, 5, 5, 2, 2).withGroups(6)); // row loops
        List<DynamicTest> tests = new ArrayList<>();
        for (ConvDesc s : shapes)
            for (ConvPass pass : ConvPass.values()) {
                ConvDesc d = s.withPass(pass).withBias(pass != ConvPass.BACKWARD_DATA);
                tests.add(DynamicTest.dynamicTest(d.shape() + " " + pass, () -> check(w, d)));
            }
        return tests.stream();
    }

    private static void check(Width w, ConvDesc d) {
        long seed = ConvParityTest.SEED + d.hashCode();
        System.out.println("DepthwiseTest " + d.shape() + " " + d.pass() + " seed " + seed);
        List<HostBuffer> owned = new ArrayList<>();
        try {
            Args nat = Args.of(), heap = Args.of();
            List<float[]> arrays = new ArrayList<>();
            SplittableRandom rnd = new SplittableRandom(seed);
            for (ArgSpec spec : d.args()) {
                int n = Math.toIntExact(spec.count());
                float[] values = new float[n];
                for (int i = 0; i < n; i++) values[i] = spec.access().reads() ? (float) (rnd.nextDouble() * 2 - 1) : Float.NaN;
                HostBuffer b = HostBuffer.allocate(null, spec.dtype(), n);
                owned.add(b);
                MemorySegment.copy(values, 0, b.hostSegment(), ValueLayout.JAVA_FLOAT, 0, n);
                nat.put(spec.arg(), b);
                float[] array = new float[n + 2 * MARGIN];
                java.util.Arrays.fill(array, GUARD);
                System.arraycopy(values, 0, array, MARGIN, n);
                arrays.add(array);
                heap.put(spec.arg(), HostBuffer.wrap(array, MARGIN, n));
            }
            assertTrue(!NativeSegments.all(d, heap) && NativeSegments.all(d, nat), "heap views must take the staged path");
            for (Args a : List.of(nat, heap))
                try (Plan plan = ConvImpls.conv(w).plan(d)) {
                    plan.execute(null, a);
                }
            int k = 0;
            for (ArgSpec spec : d.args()) {
                float[] array = arrays.get(k++);
                int n = Math.toIntExact(spec.count());
                float[] want = nat.host(spec.arg()).toArray(ValueLayout.JAVA_FLOAT);
                float[] got = java.util.Arrays.copyOfRange(array, MARGIN, MARGIN + n);
                assertArrayEquals(want, got, 0f, d.shape() + " " + d.pass() + " " + spec.arg() + ": heap operands differ from native");
                for (int i = 0; i < MARGIN; i++) {
                    assertEquals(GUARD, array[i], spec.arg() + ": element before the view written");
                    assertEquals(GUARD, array[MARGIN + n + i], spec.arg() + ": element after the view written");
                }
                if (spec.access().writes()) {
                    boolean anyNonZero = false;
                    for (float v : got) anyNonZero |= v != 0 && !Float.isNaN(v);
                    assertTrue(anyNonZero, spec.arg() + ": output is all zero or NaN (mistrusted)");
                }
            }
        } finally {
            for (HostBuffer b : owned) b.close();
        }
    }
}
