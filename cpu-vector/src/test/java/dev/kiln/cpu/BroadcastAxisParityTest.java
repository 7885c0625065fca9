package dev.kiln.cpu;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The binary, reduce and softmax cases that used to fall back to the reference (issue #4), checked on the vector
 * implementation itself: binary backward and broadcasting along every axis position (per-channel, column,
 * both operands broadcast), reductions and softmax along every axis (inner > 1), ARGMAX, softmax backward.
 * Random inputs through the parity harness (outputs poisoned, per-op tolerances), then handmade NaN, infinity,
 * signed-zero and tie inputs compared exactly with the reference where it defines the answer, then 1 vs 2
 * threads bit for bit.
 */
class BroadcastAxisParityTest {
    private static CpuDevice device;

    @BeforeAll static void open() { device = new CpuDevice(); }

    @AfterAll static void close() { device.close(); }

    private static KernelImpl vectorImpl(OpDesc d) {
        KernelImpl impl = device.implementations(d.kind()).getFirst();
        assertTrue(impl.name().startsWith("vector-"), "first " + d.kind() + " implementation is " + impl.name());
        assertTrue(impl.supports(d).ok(), impl.name() + " should take " + d.opName() + " " + d.shape() + ": " + impl.supports(d).reason());
        return impl;
    }

    private static Stream<DynamicTest> checks(List<OpDesc> cases) {
        long seed = TestData.SEED;
        System.out.println("BroadcastAxisParityTest seed " + seed + " (-Dkiln.seed to repeat)");
        return IntStream.range(0, cases.size()).mapToObj(i -> {
            OpDesc d = cases.get(i);
            return DynamicTest.dynamicTest(d.opName() + " " + d.shape(), () -> {
                ParityResult r = Parity.check(device, vectorImpl(d), d, seed + i);
                assertEquals(ParityResult.Status.PASSED, r.status(), r.toString());
            });
        });
    }

    /** Every case of the shared list, on the vector kernel (the device-level suites may pick any implementation). */
    @TestFactory Stream<DynamicTest> sharedCases() {
        List<OpDesc> cases = new ArrayList<>();
        for (OpKind kind : new OpKind[] {OpKind.BINARY, OpKind.REDUCE, OpKind.SOFTMAX}) cases.addAll(Parity.cases(kind, 0));
        return checks(cases);
    }

    /**
     * 2 x 7 x 5 x 33 with each operand's extent set to 1 along every subset of axes (so per-channel, per-row,
     * column, scalar and both-broadcast shapes), every op and both passes, plus ranks that differ.
     */
    @TestFactory Stream<DynamicTest> broadcastAlongEveryAxis() {
        int[] full = {2, 7, 5, 33};
        BinaryOp[] ops = BinaryOp.values();
        List<OpDesc> cases = new ArrayList<>();
        for (int mask = 0; mask < 16; mask++)
            for (Pass pass : Pass.values()) {
                BinaryOp op = ops[(mask + pass.ordinal()) % ops.length];
                cases.add(new BinaryDesc(op, Shape.of(full), ones(full, mask), pass));
                cases.add(new BinaryDesc(ops[(mask + 3) % ops.length], ones(full, (mask * 5 + 3) & 15), ones(full, mask), pass));
            }
        for (Pass pass : Pass.values()) {
            cases.add(new BinaryDesc(BinaryOp.MUL, Shape.of(257, 1), Shape.of(257, 33), pass));      // a column (N,1)
            cases.add(new BinaryDesc(BinaryOp.DIV, Shape.of(33, 1), Shape.of(7), pass));            // (33,1) x (7)
            cases.add(new BinaryDesc(BinaryOp.SUB, Shape.of(1), Shape.of(1), pass));
            cases.add(new BinaryDesc(BinaryOp.ADD, Shape.of(4099, 33), Shape.of(33), pass));        // Linear bias
            cases.add(new BinaryDesc(BinaryOp.ADD, Shape.of(3, 64, 7, 7), Shape.of(1, 64, 1, 1), pass)); // conv bias
            cases.add(new BinaryDesc(BinaryOp.MAX, Shape.of(5, 1, 2500), Shape.of(3, 1), pass));     // long rows
            cases.add(new BinaryDesc(BinaryOp.MIN, Shape.of(1, 7, 1), Shape.of(3, 1, 257), pass));
        }
        return checks(cases);
    }

    private static Shape ones(int[] dims, int mask) {
        int[] d = dims.clone();
        for (int i = 0; i < d.length; i++) if ((mask >> i & 1) != 0) d[i] = 1;
        return Shape.of(d);
    }

    /** Every reduction and softmax along each axis of 3 x 7 x 33 x 17, and the awkward 1/7/257 layouts. */
    @TestFactory Stream<DynamicTest> reduceAndSoftmaxAlongEveryAxis() {
        Shape shape = Shape.of(3, 7, 33, 17);
        List<OpDesc> cases = new ArrayList<>();
        for (int axis = 0; axis < shape.rank(); axis++) {
            for (ReduceOp op : ReduceOp.values()) cases.add(ReduceDesc.along(op, shape, axis));
            ReduceDesc v = ReduceDesc.along(ReduceOp.SUM, shape, axis);
            for (boolean log : new boolean[] {false, true})
                for (Pass pass : Pass.values()) cases.add(new SoftmaxDesc(v.outer(), v.length(), v.inner(), log, pass));
        }
        int[][] layouts = {{1, 257, 7}, {257, 1, 33}, {7, 33, 257}, {1, 1, 1}, {1, 4099, 1}, {2, 3, 2049}};
        for (int i = 0; i < layouts.length; i++) {
            int[] s = layouts[i];
            for (ReduceOp op : ReduceOp.values()) cases.add(new ReduceDesc(op, s[0], s[1], s[2]));
            cases.add(new SoftmaxDesc(s[0], s[1], s[2], i % 2 == 0, Pass.FORWARD));
            cases.add(new SoftmaxDesc(s[0], s[1], s[2], i % 2 == 1, Pass.BACKWARD));
        }
        return checks(cases);
    }

    /**
     * Values with NaN (first and later in a row), infinities, ties and signed zeros: MAX and ARGMAX along rows
     * and columns, and binary MAX/MIN both ways (ties send the gradient to SRC, NaN to SRC2) agree with the
     * reference exactly (the gradients here have one term each).
     */
    @Test void specialValuesMatchTheReferenceExactly() {
        float[] pool = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, 1f, 1f, -1f, 2f, 2f};
        SplittableRandom rnd = new SplittableRandom(TestData.SEED);
        int checked = 0;
        for (int[] s : new int[][] {{37, 33, 1}, {5, 19, 21}, {3, 7, 9}, {1, 70, 1}, {9, 1, 17}}) {
            float[] x = new float[s[0] * s[1] * s[2]];
            for (int i = 0; i < x.length; i++) x[i] = pool[rnd.nextInt(pool.length)];
            // a row of -inf only, a row with NaN only at 0, a row of NaN after its first element
            if (s[2] == 1 && s[0] > 3) {
                Arrays.fill(x, 0, s[1], Float.NEGATIVE_INFINITY);
                Arrays.fill(x, s[1], 2 * s[1], 1f);
                x[s[1]] = Float.NaN;
                Arrays.fill(x, 2 * s[1] + 1, 3 * s[1], Float.NaN);
            }
            for (ReduceOp op : new ReduceOp[] {ReduceOp.MAX, ReduceOp.ARGMAX}) {
                ReduceDesc d = new ReduceDesc(op, s[0], s[1], s[2]);
                assertExact(d, Map.of(Arg.SRC, x));
                checked++;
            }
        }
        for (BinaryOp op : new BinaryOp[] {BinaryOp.MAX, BinaryOp.MIN})
            for (Shape b : new Shape[] {Shape.of(33, 19), Shape.of(1, 19), Shape.of(33, 1)})
                for (Pass pass : Pass.values()) {
                    BinaryDesc d = new BinaryDesc(op, Shape.of(33, 19), b, pass);
                    float[] a = new float[33 * 19], bv = new float[(int) b.count()], g = TestData.floats(33 * 19, TestData.SEED + 5);
                    for (int i = 0; i < a.length; i++) a[i] = pool[rnd.nextInt(pool.length)];
                    for (int i = 0; i < bv.length; i++) bv[i] = pool[rnd.nextInt(pool.length)];
                    // exact only where each gradient element has one term: SRC2 broadcast sums several
                    if (pass == Pass.BACKWARD && b.count() != a.length) continue;
                    assertExact(d, pass == Pass.FORWARD ? Map.of(Arg.SRC, a, Arg.SRC2, bv) : Map.of(Arg.SRC, a, Arg.SRC2, bv, Arg.DIFF_DST, g));
                    checked++;
                }
        assertEquals(18, checked);
    }

    /** Runs {@code d} on the vector kernel and the reference from the same inputs; every output must match bit for bit. */
    private static void assertExact(OpDesc d, Map<Arg, float[]> inputs) {
        Map<Arg, int[]> vector = run(vectorImpl(d), d, inputs), ref = run(RefKernels.impl(d.kind()), d, inputs);
        for (Arg out : vector.keySet()) {
            int[] v = vector.get(out), r = ref.get(out);
            for (int i = 0; i < v.length; i++) {
                boolean same = v[i] == r[i] || (Float.isNaN(Float.intBitsToFloat(v[i])) && Float.isNaN(Float.intBitsToFloat(r[i])));
                assertTrue(same, d.opName() + " " + d.shape() + " " + out + "[" + i + "]: vector " + show(d, v[i]) + ", reference " + show(d, r[i]));
            }
        }
    }

    private static String show(OpDesc d, int bits) {
        return d instanceof ReduceDesc r && r.op() == ReduceOp.ARGMAX ? Integer.toString(bits) : Float.toString(Float.intBitsToFloat(bits));
    }

    /** Outputs as raw 32-bit words, poisoned (NaN) before the kernel runs. */
    private static Map<Arg, int[]> run(KernelImpl impl, OpDesc d, Map<Arg, float[]> inputs) {
        Args args = Args.of();
        Map<Arg, Object> outs = new EnumMap<>(Arg.class);
        for (ArgSpec spec : d.args()) {
            if (spec.access().reads()) {
                args.put(spec.arg(), HostBuffer.wrap(inputs.get(spec.arg()).clone()));
            } else if (spec.dtype() == DType.S32) {
                int[] o = new int[Math.toIntExact(spec.count())];
                Arrays.fill(o, Float.floatToRawIntBits(Float.NaN));
                outs.put(spec.arg(), o);
                args.put(spec.arg(), HostBuffer.wrap(o));
            } else {
                float[] o = new float[Math.toIntExact(spec.count())];
                Arrays.fill(o, Float.NaN);
                outs.put(spec.arg(), o);
                args.put(spec.arg(), HostBuffer.wrap(o));
            }
        }
        try (Plan plan = impl.plan(d)) {
            plan.execute(device.defaultStream(), args);
            device.defaultStream().synchronize();
        }
        Map<Arg, int[]> bits = new EnumMap<>(Arg.class);
        outs.forEach((arg, o) -> {
            if (o instanceof int[] i) bits.put(arg, i);
            else {
                float[] f = (float[]) o;
                int[] b = new int[f.length];
                for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
                bits.put(arg, b);
            }
        });
        return bits;
    }

    /** The new paths cut work into tasks by fixed rules: 1 and 2 threads give the same bits. */
    @Test void bitIdenticalForOneAndTwoThreads() {
        List<OpDesc> cases = List.of(
                new BinaryDesc(BinaryOp.MUL, Shape.of(8, 64, 15, 15), Shape.of(1, 64, 1, 1), Pass.BACKWARD),
                new BinaryDesc(BinaryOp.ADD, Shape.of(4099, 65), Shape.of(65), Pass.BACKWARD),
                new BinaryDesc(BinaryOp.DIV, Shape.of(300, 1), Shape.of(300, 257), Pass.BACKWARD),
                new BinaryDesc(BinaryOp.SUB, Shape.of(30, 1, 257), Shape.of(1, 70, 1), Pass.FORWARD),
                new ReduceDesc(ReduceOp.SUM, 4099, 65, 1),
                new ReduceDesc(ReduceOp.MEAN, 3, 4099, 65),
                new ReduceDesc(ReduceOp.ARGMAX, 7, 300, 63),
                new ReduceDesc(ReduceOp.ARGMAX, 3000, 33, 1),
                new SoftmaxDesc(5, 300, 63, false, Pass.FORWARD),
                new SoftmaxDesc(5, 300, 63, true, Pass.BACKWARD),
                new SoftmaxDesc(3000, 33, 1, false, Pass.BACKWARD));
        int before = CpuThreads.threads();
        try {
            for (OpDesc d : cases) {
                Map<Arg, float[]> inputs = new EnumMap<>(Arg.class);
                int k = 0;
                for (ArgSpec spec : d.args())
                    if (spec.access().reads()) inputs.put(spec.arg(), TestData.floats(Math.toIntExact(spec.count()), TestData.SEED + 10 + k++));
                CpuThreads.setThreads(1);
                Map<Arg, int[]> one = run(vectorImpl(d), d, inputs);
                CpuThreads.setThreads(2);
                Map<Arg, int[]> two = run(vectorImpl(d), d, inputs);
                for (Arg out : one.keySet()) assertArrayEquals(one.get(out), two.get(out), d.opName() + " " + d.shape() + " " + out);
            }
        } finally {
            CpuThreads.setThreads(before);
        }
    }
}
