package dev.kiln.kernels.testing;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import dev.kiln.kernels.verify.ParityResult.Status;
import dev.kiln.kernels.verify.Tolerance;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/** The case lists cover every variant at awkward sizes, deterministically; tolerances are exact where they must be. */
class ParityCasesTest {

    @Test
    void deterministicAndCapped() {
        for (OpKind kind : OpKind.values()) {
            List<OpDesc> all = Parity.cases(kind, 0), capped = Parity.cases(kind, 40);
            assertEquals(all, Parity.cases(kind, -1));
            assertEquals(capped, Parity.cases(kind, 40), "same list every time for " + kind);
            assertTrue(all.size() >= 10, kind + " has " + all.size() + " cases");
            assertEquals(Math.min(40, all.size()), capped.size());
            assertEquals(all.getLast(), capped.getLast(), "the larger case is kept for " + kind);
            assertTrue(all.containsAll(capped));
            assertEquals(1, Parity.cases(kind, 1).size());
            for (OpDesc d : all) assertEquals(kind, d.kind());
        }
    }

    /** Every variant appears even in the default 40 cases a backend test runs. */
    @Test
    void everyVariantInFortyCases() {
        covers(OpKind.GEMM, d -> {
            GemmDesc g = (GemmDesc) d;
            return g.dtype() + " " + g.transA() + g.transB();
        }, 2 * 4);
        covers(OpKind.GEMM, d -> ((GemmDesc) d).activation().name(), Activation.values().length);
        covers(OpKind.CONV, d -> {
            ConvDesc c = (ConvDesc) d;
            return c.pass() + " " + c.transposed();
        }, 6);
        covers(OpKind.UNARY, OpDesc::opName, UnaryOp.values().length * 2);
        covers(OpKind.BINARY, OpDesc::opName, BinaryOp.values().length * 2);
        covers(OpKind.REDUCE, OpDesc::opName, ReduceOp.values().length);
        covers(OpKind.SOFTMAX, OpDesc::opName, 4);
        covers(OpKind.NORM, OpDesc::opName, 7);
        covers(OpKind.POOL, OpDesc::opName, 4);
        covers(OpKind.PIXEL_SHUFFLE, OpDesc::opName, 2);
        covers(OpKind.SPMM, OpDesc::opName, 3);
        covers(OpKind.DSMM, OpDesc::opName, 2);
        covers(OpKind.SDDMM, OpDesc::opName, 2);
        covers(OpKind.QGEMM, d -> d.opName() + " " + ((QGemmDesc) d).out(), 10);
        covers(OpKind.QUANTIZE, OpDesc::opName, 12);
        covers(OpKind.QUANTIZE, d -> ((QuantizeDesc) d).granularity() + " " + ((QuantizeDesc) d).rounding(), 3 * 2);
        covers(OpKind.QUANTIZE, d -> ((QuantizeDesc) d).symmetric() + " " + ((QuantizeDesc) d).computeScales(), 2 * 2);
        covers(OpKind.CONVERT, OpDesc::opName, 4);
        covers(OpKind.BLAS1, OpDesc::opName, 6);
        covers(OpKind.BLAS1, d -> ((Blas1Desc) d).incx() + "," + ((Blas1Desc) d).incy(), 5); // scal has incy 1

        List<OpDesc> gemm = Parity.cases(OpKind.GEMM, 40);
        assertTrue(gemm.stream().anyMatch(d -> ((GemmDesc) d).batch() > 1), "batched GEMM");
        assertTrue(gemm.stream().anyMatch(d -> ((GemmDesc) d).bias()), "bias epilogue");
        assertTrue(gemm.stream().anyMatch(d -> ((GemmDesc) d).beta() != 0), "beta != 0 (C read)");
        assertTrue(gemm.stream().anyMatch(d -> ((GemmDesc) d).ldc() > Math.max(1, ((GemmDesc) d).n())), "ldc above the minimum");
        List<OpDesc> conv = Parity.cases(OpKind.CONV, 40);
        assertTrue(conv.stream().anyMatch(d -> ((ConvDesc) d).groups() > 1), "grouped convolution");
        assertTrue(conv.stream().anyMatch(d -> ((ConvDesc) d).bias()), "convolution bias");
        assertTrue(conv.stream().anyMatch(d -> ((ConvDesc) d).dilationW() > 1), "dilated convolution");
    }

    private static void covers(OpKind kind, Function<OpDesc, String> variant, int expected) {
        Set<String> seen = new HashSet<>();
        for (OpDesc d : Parity.cases(kind, 40)) seen.add(variant.apply(d));
        assertEquals(expected, seen.size(), kind + " variants in 40 cases: " + seen);
    }

    @Test
    void awkwardAndLargerSizes() {
        Set<Integer> dims = new HashSet<>();
        for (OpDesc d : Parity.cases(OpKind.GEMM, 0)) {
            GemmDesc g = (GemmDesc) d;
            dims.add(g.m());
            dims.add(g.n());
            dims.add(g.k());
        }
        assertTrue(dims.containsAll(List.of(0, 1, 2, 3, 7, 13, 17, 31, 33, 63, 127, 257, 300)), "GEMM sizes " + dims);
        assertTrue(Parity.cases(OpKind.CONV, 40).contains(ConvDesc.conv2d(2, 16, 33, 33, 24, 3, 3, 1, 1).withBias(true)));
    }

    @Test
    void tolerancesExactForIntegerAndDataMovement() {
        assertTrue(Parity.tolerance(QGemmDesc.s8(3, 4, 5, DType.S32)).isExact());
        assertTrue(Parity.tolerance(QuantizeDesc.of(QuantizeDesc.Mode.FAKE, DType.S4, Shape.of(3, 32)).perGroup(32)).isExact());
        assertTrue(Parity.tolerance(new ConvertDesc(DType.F32, DType.F16, 5)).isExact());
        assertTrue(Parity.tolerance(new PixelShuffleDesc(1, 4, 2, 2, 2, false)).isExact());
        assertTrue(Parity.tolerance(new ReduceDesc(ReduceOp.MAX, 2, 3, 4)).isExact());
        assertTrue(Parity.tolerance(new ReduceDesc(ReduceOp.ARGMAX, 2, 3, 4)).isExact());
        assertTrue(Parity.tolerance(PoolDesc.of(PoolDesc.PoolKind.MAX, 1, 1, 4, 4, 2, 2, 0)).isExact());
        Tolerance f32 = Parity.tolerance(GemmDesc.of(8, 8, 8));
        Tolerance f64 = Parity.tolerance(GemmDesc.of(DType.F64, Transpose.N, Transpose.N, 8, 8, 8, 1, 0));
        assertFalse(f32.isExact());
        assertTrue(f32.relative() < 1e-5 && f32.relative() > 1e-7, f32::toString);
        assertTrue(f64.relative() < f32.relative() * 1e-6, f64 + " vs " + f32);
        assertTrue(Parity.tolerance(new UnaryDesc(UnaryOp.TANH, 5)).relative() > Parity.tolerance(new UnaryDesc(UnaryOp.NEG, 5)).relative());
    }

    /** Honest f32 kernels (float accumulation, another order) pass: the tolerances are not tighter than f32 arithmetic. */
    @Test
    void floatKernelsPass() {
        int checked = 0;
        for (OpKind kind : List.of(OpKind.GEMM, OpKind.REDUCE, OpKind.SOFTMAX, OpKind.NORM)) {
            HostTestDevice device = new HostTestDevice(k -> List.of(FloatKernels.impl(k)));
            for (OpDesc d : Parity.cases(kind, 0)) {
                if (!FloatKernels.covers(d)) continue;
                ParityResult r = Parity.check(device, d, 11);
                assertEquals(Status.PASSED, r.status(), r::toString);
                checked++;
            }
            assertEquals(device.allocations(), device.closes());
        }
        assertTrue(checked > 100, "cases checked: " + checked);
    }
}
