package dev.kiln.kernels.verify;

import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;

import java.util.ArrayList;
import java.util.List;

/**
 * Case lists of the sparse families beside SpMM ({@link ParityCases} keeps SpMM's): awkward sizes, both
 * variants of each, densities from empty (every row empty) to full, so empty rows occur at low density;
 * each list ends with its one larger case.
 */
final class SparseCases {
    private SparseCases() {}

    /** m, n, k, density of the sparse operand. */
    private static final double[][] SIZES = {{1, 1, 1, 1}, {1, 7, 13, 0.3}, {7, 13, 17, 0.2}, {13, 1, 31, 0.5}, {17, 33, 7, 0},
            {31, 17, 63, 0.05}, {2, 127, 33, 0.1}, {63, 31, 33, 1}, {5, 257, 127, 0.02}, {33, 65, 9, 0.7}, {3, 2, 129, 0.4}};

    static List<OpDesc> dsmm() {
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) {
            double[] s = SIZES[i];
            int m = (int) s[0], n = (int) s[1], k = (int) s[2], nnz = (int) Math.round(s[3] * n * k);
            list.add(DsmmDesc.timesTransposed(m, n, k, nnz));
            list.add(DsmmDesc.times(m, n, k, nnz));
        }
        list.add(DsmmDesc.times(9, 1100, 40, 1100 * 40 / 10));   // C wider than 1024 columns (CUDA: column tiles)
        list.add(DsmmDesc.timesTransposed(64, 300, 257, 300 * 257 / 10));
        return list;
    }

    static List<OpDesc> sddmm() {
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) {
            double[] s = SIZES[i];
            int m = (int) s[0], n = (int) s[1], k = (int) s[2], nnz = (int) Math.round(s[3] * m * n);
            list.add(SddmmDesc.of(m, n, k, nnz));
            list.add(SddmmDesc.transposedInputs(m, n, k, nnz));
        }
        list.add(SddmmDesc.of(257, 300, 64, 257 * 300 / 10));
        return list;
    }
}
