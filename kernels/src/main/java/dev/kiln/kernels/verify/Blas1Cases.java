package dev.kiln.kernels.verify;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.desc.Blas1Op;
import dev.kiln.kernels.desc.OpDesc;

import java.util.ArrayList;
import java.util.List;

/**
 * Level-1 BLAS cases for {@link ParityCases}: DOT, AXPY and SCAL in f32 and f64 cycled against awkward
 * lengths (0 included: DOT must write 0, the others nothing) and increments 1, 2 and 3 (the elements between
 * stride positions of an AXPY / SCAL output hold random data that must survive), with alpha 0 for AXPY
 * (y untouched) among the values; the larger case is a long contiguous DOT (the chunked, multithreaded sum).
 */
final class Blas1Cases {
    private Blas1Cases() {}

    private static final int[] LENGTHS = {1, 7, 0, 2, 33, 3, 13, 17, 257, 31, 63, 127, 1000, 4099};
    private static final int[][] INCREMENTS = {{1, 1}, {2, 1}, {1, 3}, {3, 2}, {1, 1}};
    private static final double[] ALPHAS = {1.5, -0.75, 0, 2, -1};

    static List<OpDesc> blas1() {
        List<OpDesc> list = new ArrayList<>();
        int v = 0;
        for (int n : LENGTHS) {
            for (Blas1Op op : Blas1Op.values()) {
                DType dtype = (v + n) % 2 == 0 ? DType.F32 : DType.F64;
                int[] inc = INCREMENTS[v % INCREMENTS.length];
                double alpha = ALPHAS[v % ALPHAS.length];
                list.add(switch (op) {
                    case DOT -> Blas1Desc.dot(dtype, n, inc[0], inc[1]);
                    case AXPY -> Blas1Desc.axpy(dtype, n, alpha, inc[0], inc[1]);
                    case SCAL -> Blas1Desc.scal(dtype, n, alpha == 0 ? 0.5 : alpha, inc[0]);
                });
                v++;
            }
        }
        list.add(Blas1Desc.axpy(DType.F32, 70001, -1.25, 1, 1));
        list.add(Blas1Desc.dot(DType.F32, 100003, 1, 1));
        return list;
    }
}
