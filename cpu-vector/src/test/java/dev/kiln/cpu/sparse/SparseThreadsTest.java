package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.sparse.BsrMatrix;
import dev.kiln.kernels.sparse.CsrMatrix;
import dev.kiln.kernels.sparse.TwoFourMatrix;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Every sparse kernel gives bit-identical results on one thread and on two (tasks do not depend on the thread count). */
class SparseThreadsTest {
    private static int previous;

    @BeforeAll static void remember() { previous = CpuThreads.threads(); }

    @AfterAll static void restore() { CpuThreads.setThreads(previous); }

    private static float[] random(Random r, int n, double zeros) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextDouble() < zeros ? 0f : (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    /** Runs {@code desc} with the args the supplier builds, writing into {@code out}; returns out's contents. */
    private static float[] run(int threads, OpDesc desc, Supplier<Args> args, float[] out) {
        CpuThreads.setThreads(threads);
        Arrays.fill(out, Float.NaN);
        VectorSparse.run(VectorSupport.width(), desc, args.get());
        return out.clone();
    }

    private static void same(OpDesc desc, Supplier<Args> args, float[] out) {
        float[] one = run(1, desc, args, out), two = run(2, desc, args, out);
        for (float v : one) assertTrue(!Float.isNaN(v), desc.opName() + ": output not written");
        assertArrayEquals(one, two, desc.opName() + " " + desc.shape() + ": 1 and 2 threads differ");
    }

    @Test void oneAndTwoThreadsGiveIdenticalBits() {
        assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Random r = new Random(42);
        int m = 272, k = 96, n = 300;
        float[] dense = random(r, m * k, 0.8), b = random(r, k * n, 0), c = new float[m * n];
        CsrMatrix csr = CsrMatrix.fromDense(dense, m, k, 0f);
        BsrMatrix bsr = BsrMatrix.fromDense(random(r, m * k, 0.97), m, k, 16, 16, 0f);
        TwoFourMatrix tf = TwoFourMatrix.fromDense(dense, m, k);
        HostBuffer bb = HostBuffer.wrap(b), cb = HostBuffer.wrap(c);
        same(csr.spmmDesc(n), () -> csr.spmmArgs(bb, cb), c);
        same(bsr.spmmDesc(n), () -> bsr.spmmArgs(bb, cb), c);
        same(tf.spmmDesc(n), () -> tf.spmmArgs(bb, cb), c);
        // a short S (one block of rows, split into runs of panels instead), as a convolution's 40 output channels
        CsrMatrix shortCsr = CsrMatrix.fromDense(Arrays.copyOf(dense, 40 * k), 40, k, 0f);
        TwoFourMatrix shortTf = TwoFourMatrix.fromDense(Arrays.copyOf(dense, 40 * k), 40, k);
        float[] cShort = new float[40 * n];
        HostBuffer cs = HostBuffer.wrap(cShort);
        same(shortCsr.spmmDesc(n), () -> shortCsr.spmmArgs(bb, cs), cShort);
        same(shortTf.spmmDesc(n), () -> shortTf.spmmArgs(bb, cs), cShort);
        float[] x = random(r, k, 0), y = new float[m];
        HostBuffer xb = HostBuffer.wrap(x), yb = HostBuffer.wrap(y);
        same(csr.spmmDesc(1), () -> csr.spmmArgs(xb, yb), y);

        // dense x sparse^T: A (130 x k) times csr^T (k x m); dense x sparse: A (130 x m) times csr (m x k)
        float[] a1 = random(r, 130 * k, 0), c1 = new float[130 * m], a2 = random(r, 130 * m, 0), c2 = new float[130 * k];
        same(DsmmDesc.timesTransposed(130, m, k, csr.nnz()), () -> Args.of(Arg.A, HostBuffer.wrap(a1), Arg.ROW_PTR, csr.rowPtrBuffer(),
                Arg.COL_IDX, csr.colIdxBuffer(), Arg.VALUES, csr.valuesBuffer()).put(Arg.C, HostBuffer.wrap(c1)), c1);
        same(DsmmDesc.times(130, k, m, csr.nnz()), () -> Args.of(Arg.A, HostBuffer.wrap(a2), Arg.ROW_PTR, csr.rowPtrBuffer(),
                Arg.COL_IDX, csr.colIdxBuffer(), Arg.VALUES, csr.valuesBuffer()).put(Arg.C, HostBuffer.wrap(c2)), c2);

        // SDDMM at csr's mask (m x k): A m x 40, B k x 40; and the transposed-input form
        float[] qa = random(r, m * 40, 0), qb = random(r, k * 40, 0), vals = new float[csr.nnz()];
        for (boolean t : new boolean[] {false, true}) {
            OpDesc d = new SddmmDesc(t, m, k, 40, csr.nnz());
            same(d, () -> Args.of(Arg.A, HostBuffer.wrap(qa), Arg.B, HostBuffer.wrap(qb), Arg.ROW_PTR, csr.rowPtrBuffer(),
                    Arg.COL_IDX, csr.colIdxBuffer()).put(Arg.VALUES, HostBuffer.wrap(vals)), vals);
        }
    }
}
