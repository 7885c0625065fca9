package dev.kiln.cpu.sparse;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;


/**
 * C = S * B for a block-sparse S (blocks br x bc, row-major), on a range of block rows and columns.
 *
 * <p>Each stored block is a small dense GEMM, so the kernel is the GEMM microkernel's idea on the block:
 * eight rows of a block row by two vectors of columns are held in sixteen accumulators while every block of
 * the block row and every column p of the block go by: per step two loads of B (row blockCol*bc+p), eight
 * broadcasts of block values (L1-resident) and sixteen independent FMAs. B traffic is one eighth of CSR's
 * per FMA; B is packed in two-vector column panels ({@link PackedPanels}), the outer loop, so a panel stays
 * in L2 and a block's rows of B are one contiguous run. Rows of a block row beyond a multiple of eight take a
 * one-row path; the column tail is the packed panel's zero padding, cut off when the tile is written to C.
 */
final class BsrKernel {
    private BsrKernel() {}

    /** Vectors per row of a packed B panel: two, the width of the eight-row microkernel. */
    static final int VECTORS = 2;

    /**
     * Block rows [R0, R1) of S times panel p of the packed B ({@link #VECTORS} vectors wide) into {@code tile}
     * (row R0 * br + i at i * width): in the packed layout the bc rows of B a block needs are one contiguous run,
     * and a panel (k rows of two vectors, 512 KB at 512 bits for k = 4096) spans few pages and stays in L2.
     */
    static void blockRows(Width w, int br, int bc, int[] rowPtr, int[] colIdx, float[] values, PackedPanels bp, int p, float[] tile,
                          int R0, int R1) {
        int width = bp.width, base = bp.base(p);
        float[] b = bp.data;
        for (int R = R0; R < R1; R++) {
            int e0 = rowPtr[R], e1 = rowPtr[R + 1], i = 0, at = (R - R0) * br * width;
            for (; i + 8 <= br; i += 8) eightRows(w, br, bc, e0, e1, i, colIdx, values, b, base, tile, at + i * width);
            for (; i < br; i++) oneRow(w, br, bc, e0, e1, i, colIdx, values, b, base, tile, at + i * width);
        }
    }

    /** Rows i..i+7 of the block row, the panel's two vectors. */
    private static void eightRows(Width w, int br, int bc, int e0, int e1, int i, int[] colIdx, float[] values,
                                  float[] b, int base, float[] c, int cAt) {
        VectorSpecies<Float> s = w.floats();
        int lb = s.length(), ldb = VECTORS * lb, ldc = ldb; // constants: shifts, not multiplies
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        FloatVector c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        for (int e = e0; e < e1; e++) {
            int bRow = colIdx[e] * bc;
            int v = (e * br + i) * bc; // value (i, 0) of block e
            for (int p = 0; p < bc; p++) {
                int o = base + (bRow + p) * ldb, vp = v + p;
                FloatVector b0 = FloatVector.fromArray(s, b, o), b1 = FloatVector.fromArray(s, b, o + lb);
                FloatVector x = FloatVector.broadcast(s, values[vp]);
                c00 = b0.fma(x, c00);
                c01 = b1.fma(x, c01);
                x = FloatVector.broadcast(s, values[vp + bc]);
                c10 = b0.fma(x, c10);
                c11 = b1.fma(x, c11);
                x = FloatVector.broadcast(s, values[vp + 2 * bc]);
                c20 = b0.fma(x, c20);
                c21 = b1.fma(x, c21);
                x = FloatVector.broadcast(s, values[vp + 3 * bc]);
                c30 = b0.fma(x, c30);
                c31 = b1.fma(x, c31);
                x = FloatVector.broadcast(s, values[vp + 4 * bc]);
                c40 = b0.fma(x, c40);
                c41 = b1.fma(x, c41);
                x = FloatVector.broadcast(s, values[vp + 5 * bc]);
                c50 = b0.fma(x, c50);
                c51 = b1.fma(x, c51);
                x = FloatVector.broadcast(s, values[vp + 6 * bc]);
                c60 = b0.fma(x, c60);
                c61 = b1.fma(x, c61);
                x = FloatVector.broadcast(s, values[vp + 7 * bc]);
                c70 = b0.fma(x, c70);
                c71 = b1.fma(x, c71);
            }
        }
        int o = cAt, row = ldc;
        c00.intoArray(c, o);
        c01.intoArray(c, o + lb);
        c10.intoArray(c, o + row);
        c11.intoArray(c, o + row + lb);
        c20.intoArray(c, o + 2 * row);
        c21.intoArray(c, o + 2 * row + lb);
        c30.intoArray(c, o + 3 * row);
        c31.intoArray(c, o + 3 * row + lb);
        c40.intoArray(c, o + 4 * row);
        c41.intoArray(c, o + 4 * row + lb);
        c50.intoArray(c, o + 5 * row);
        c51.intoArray(c, o + 5 * row + lb);
        c60.intoArray(c, o + 6 * row);
        c61.intoArray(c, o + 6 * row + lb);
        c70.intoArray(c, o + 7 * row);
        c71.intoArray(c, o + 7 * row + lb);
    }

    /** Row i of the block row, the panel's two vectors. */
    private static void oneRow(Width w, int br, int bc, int e0, int e1, int i, int[] colIdx, float[] values,
                               float[] b, int base, float[] c, int cAt) {
        VectorSpecies<Float> s = w.floats();
        int lb = s.length(), ldb = VECTORS * lb;
        FloatVector z = FloatVector.zero(s), a0 = z, a1 = z;
        for (int e = e0; e < e1; e++) {
            int bRow = colIdx[e] * bc, v = (e * br + i) * bc;
            for (int p = 0; p < bc; p++) {
                int o = base + (bRow + p) * ldb;
                FloatVector x = FloatVector.broadcast(s, values[v + p]);
                a0 = FloatVector.fromArray(s, b, o).fma(x, a0);
                a1 = FloatVector.fromArray(s, b, o + lb).fma(x, a1);
            }
        }
        a0.intoArray(c, cAt);
        a1.intoArray(c, cAt + lb);
    }
}
