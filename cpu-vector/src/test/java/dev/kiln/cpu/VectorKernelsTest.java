package dev.kiln.cpu;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cases the shared parity list does not reach, checked against the reference on the vector
 * implementation itself (never falling through to the reference): GEMM shapes that cross every block
 * boundary (k > kc, m > mc, n > nc) in all transposes with batches and epilogues, f32 and f64, every unary op and pass
 * at lengths around the vector length, and the binary/reduce/softmax shapes the vector kernels take.
 */
class VectorKernelsTest {
    private static CpuDevice device;

    @BeforeAll static void open() { device = new CpuDevice(); }

    @AfterAll static void close() { device.close(); }

    private static KernelImpl vectorImpl(OpKind kind) {
        KernelImpl impl = device.implementations(kind).getFirst();
        assertTrue(impl.name().startsWith("vector-"), "first " + kind + " implementation is " + impl.name());
        return impl;
    }

    private static Stream<DynamicTest> checks(List<OpDesc> cases) {
        long seed = Long.getLong("kiln.seed", 20261123L);
        System.out.println("VectorKernelsTest seed " + seed + " (-Dkiln.seed to repeat)");
        return cases.stream().map(d -> DynamicTest.dynamicTest(d.opName() + " " + d.shape(), () -> {
            KernelImpl impl = vectorImpl(d.kind());
            assertTrue(impl.supports(d).ok(), impl.name() + " should take " + d.shape() + ": " + impl.supports(d).reason());
            ParityResult r = Parity.check(device, impl, d, seed);
            assertEquals(ParityResult.Status.PASSED, r.status(), r.toString());
        }));
    }

    @TestFactory Stream<DynamicTest> gemmAcrossBlocks() {
        List<OpDesc> cases = new ArrayList<>();
        Transpose[] t = Transpose.values();
        int i = 0;
        for (Transpose ta : t)
            for (Transpose tb : t) {
                GemmDesc d = GemmDesc.of(DType.F32, ta, tb, 101 + 7 * i, 530 + 3 * i, 263 + 5 * i, i % 2 == 0 ? 1 : -0.5, i < 2 ? 0 : 0.75);
                if (i == 1) d = d.withLeadingDims(d.lda() + 1, d.ldb() + 3, d.ldc() + 2);
                if (i == 2) d = d.withEpilogue(true, Activation.SILU);
                if (i == 3) d = d.withBatch(2, (long) d.rowsA() * d.lda() + 5, 0, (long) d.m() * d.ldc() + 1)
                        .withEpilogue(false, Activation.TANH);
                cases.add(d);
                i++;
            }
        cases.add(GemmDesc.of(DType.F64, Transpose.N, Transpose.T, 100, 520, 260, 0.5, 0.25).withEpilogue(true, Activation.GELU));
        cases.add(GemmDesc.of(DType.F64, Transpose.T, Transpose.N, 13, 17, 7, 1, 0).withLeadingDims(15, 20, 19)
                .withBatch(3, 8 * 15 + 1, 0, 13 * 19));
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 5, 3, 0, 1, 0.5).withEpilogue(true, Activation.RELU));
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 1, 1, 1, 1, 0).withEpilogue(true, Activation.GELU));
        cases.add(GemmDesc.of(DType.F32, Transpose.T, Transpose.N, 97, 47, 600, 1, 0).withEpilogue(true, Activation.SIGMOID));
        // m > mc, n > 2 nc, k > 2 kc at the cache-derived block sizes (mc <= 384, nc = 512, kc <= 512 here)
        cases.add(GemmDesc.of(DType.F32, Transpose.T, Transpose.T, 401, 1100, 1030, 1, 0.5));
        // the same untransposed (A packed by bulk row copies), with a 5-row edge tile after the 384-row block,
        // a 6-column edge after 16 64-wide slivers and a 5-deep last k panel
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 389, 1030, 517, 1, 0).withLeadingDims(519, 1031, 1033));
        // shared packing with one 64-wide sliver of B per block at 512 bits (GemmBlocking.oneSliverOfB): seven row
        // bands of 114 rows, the last ending in a 1-row edge tile; a 6-column edge sliver, two k panels, beta, bias
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.T, 775, 70, 1030, -0.5, 0.5).withEpilogue(true, Activation.RELU));
        // untransposed B packed by row chunks over k panels of unequal depth (k = 2100: three panels at most 1024
        // deep at 512 bits, the last chunk of each partial) and a 3-column edge sliver; batched, beta != 0
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 13, 131, 2100, 1, 0.25).withLeadingDims(2101, 133, 131)
                .withBatch(2, 13L * 2101 + 3, 2100L * 133 + 1, 13L * 131));
        return checks(cases);
    }

    /**
     * GEMV shapes (n == 1 and m == 1, the dedicated kernel) in all transposes: several 256-row dot chunks plus
     * 1-3 leftover rows, several 512-column axpy strips plus a column tail, k with a vector and a scalar tail,
     * leading dims, batches, beta and epilogues.
     */
    @TestFactory Stream<DynamicTest> gemvBothOrientations() {
        List<OpDesc> cases = new ArrayList<>();
        int i = 0;
        for (Transpose ta : Transpose.values())
            for (Transpose tb : Transpose.values()) {
                GemmDesc col = GemmDesc.of(DType.F32, ta, tb, 517 + 2 * i, 1, 431 + i, i % 2 == 0 ? 1 : -0.5, i < 2 ? 0 : 0.75);
                GemmDesc row = GemmDesc.of(DType.F32, ta, tb, 1, 1100 + 3 * i, 37 + i, 1, i % 2 == 0 ? 0 : 0.5);
                if (i == 1) col = col.withLeadingDims(col.lda() + 3, col.ldb() + 1, col.ldc() + 2);
                if (i == 1) row = row.withLeadingDims(row.lda() + 2, row.ldb() + 5, row.ldc() + 1);
                if (i == 2) col = col.withEpilogue(true, Activation.RELU);
                if (i == 2) row = row.withEpilogue(true, Activation.GELU);
                if (i == 3) col = col.withBatch(3, (long) col.rowsA() * col.lda() + 5, 0, (long) col.m() * col.ldc() + 1);
                if (i == 3) row = row.withBatch(2, 0, (long) row.k() * row.n() + 3, (long) row.n() + 7).withEpilogue(false, Activation.TANH);
                cases.add(col);
                cases.add(row);
                i++;
            }
        cases.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 3, 1, 0, 1, 0.5).withEpilogue(true, Activation.SILU));
        cases.add(GemmDesc.of(DType.F64, Transpose.N, Transpose.N, 70, 1, 45, 1, 0));
        return checks(cases);
    }

    @TestFactory Stream<DynamicTest> unaryAllOps() {
        List<OpDesc> cases = new ArrayList<>();
        int[] counts = {1, 15, 16, 17, 33, 70, 16385};
        int i = 0;
        for (UnaryOp op : UnaryOp.values())
            for (Pass pass : Pass.values()) cases.add(new UnaryDesc(op, counts[i++ % counts.length], pass));
        return checks(cases);
    }

    @TestFactory Stream<DynamicTest> binaryReduceSoftmax() {
        List<OpDesc> cases = new ArrayList<>();
        int i = 0;
        for (BinaryOp op : BinaryOp.values()) {
            cases.add(new BinaryDesc(op, Shape.of(37, 19), Shape.of(37, 19)));
            cases.add(new BinaryDesc(op, Shape.of(3, 5, 17), Shape.of(1, 5, 17)));
            cases.add(new BinaryDesc(op, Shape.of(40000 + i++), Shape.of(1)));
        }
        cases.add(new BinaryDesc(BinaryOp.ADD, Shape.of(3, 9000), Shape.of(9000)));
        for (ReduceOp op : new ReduceOp[] {ReduceOp.SUM, ReduceOp.MEAN, ReduceOp.MAX}) {
            cases.add(new ReduceDesc(op, 5, 67, 1));
            cases.add(new ReduceDesc(op, 300, 130, 1));
            cases.add(new ReduceDesc(op, 2, 40001, 1));
        }
        for (boolean log : new boolean[] {false, true}) {
            cases.add(SoftmaxDesc.rows(7, 1, log));
            cases.add(SoftmaxDesc.rows(300, 131, log));
            cases.add(SoftmaxDesc.rows(3, 5000, log));
        }
        return checks(cases);
    }
}
