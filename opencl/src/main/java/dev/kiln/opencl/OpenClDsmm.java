package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Dense times sparse (dsmm.cl), both passes of a sparse-weight Linear layer, as C = A S'^T with S' in CSR:
 * each output element C[i][j] sums row j of S' against row i of A. The forward C = A S^T has S' = S. The
 * input gradient C = A S has no row of S per output column, so the plan first builds S' = S^T in CSR on the
 * device, rows ascending within each column and no atomics: by one work-item's counting sort on CPU drivers,
 * else by count per block of columns, a serial scan and fill per block of columns. The product transposes A into a padded scratch copy so that one work-item computes
 * {@value #LANES} rows of a column with vector loads; when that copy would exceed {@value #SCRATCH_MIB} MiB,
 * a kernel reading A in place (one output element per work-item, same summation order) runs instead. Scratch
 * is allocated when planning and released with the plan. Every value has one owner, so results are the same
 * on every run. Indices are trusted as the reference trusts them: the facade checks sizes, not index contents.
 */
final class OpenClDsmm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("dsmm.cl");
    /** Columns of S per work-item of the transpose kernels: dsmm.cl's TRANSPOSE_BLOCK. */
    static final int TRANSPOSE_BLOCK = 16;
    /** Rows of A per work-item of the vector product: dsmm.cl's DSMM_LANES. */
    static final int LANES = 16;
    /** The most scratch the transposed copy of A may take. */
    static final int SCRATCH_MIB = 256;

    private final OpenClDevice device;

    OpenClDsmm(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-dsmm"; }

    @Override public OpKind kind() { return OpKind.DSMM; }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof DsmmDesc ? Support.YES : Support.no("not a dsmm");
    }

    @Override public Plan plan(OpDesc desc) {
        return plan((DsmmDesc) desc, (long) SCRATCH_MIB << 20, device.kind() == DeviceKind.CPU);
    }

    /**
     * With at most {@code scratchBytes} for the transposed A (tests force the in-place product with 0), and
     * S transposed by one work-item ({@code serialTranspose}, for CPU drivers) or by blocks of columns.
     */
    Plan plan(DsmmDesc d, long scratchBytes, boolean serialTranspose) {
        int m = d.m(), n = d.n(), k = d.k();
        long mp = Math.ceilDiv(m, LANES) * (long) LANES;
        boolean lanes = DType.F32.bytes(mp * k) <= scratchBytes;
        boolean transposeS = !d.transposeSparse();
        List<String> names = new ArrayList<>(List.of(lanes ? "dsmm_t_lanes" : "dsmm_t"));
        if (lanes) names.addFirst("dsmm_transpose_a");
        if (transposeS) names.addAll(0, serialTranspose ? List.of("csr_transpose_serial")
                : List.of("csr_transpose_count", "csr_transpose_scan", "csr_transpose_fill"));
        List<ClKernel> ks = new ArrayList<>(names.size());
        List<OpenClBuffer> scratch = new ArrayList<>(4);
        long[][] perBlock = null, transposeA = null, product;
        try {
            ks.addAll(ClPlan.kernels(device, "dsmm.cl", SOURCE, names.toArray(String[]::new)));
            if (transposeS) {
                perBlock = serialTranspose ? new long[][] {{1}, {1}} : ClPlan.linear(ks.getFirst(), Math.ceilDiv(n, TRANSPOSE_BLOCK), 32);
                scratch.add(device.allocate(DType.S32, n + 1L));
                scratch.add(device.allocate(DType.S32, d.nnz()));
                scratch.add(device.allocate(DType.F32, d.nnz()));
            }
            if (lanes) {
                transposeA = OpenClSparse.rows(ks.get(ks.size() - 2), (int) mp, k);
                scratch.add(device.allocate(DType.F32, mp * k));
            }
            product = OpenClSparse.rows(ks.getLast(), lanes ? (int) (mp / LANES) : m, n);
        } catch (RuntimeException e) {
            for (ClKernel kernel : ks) kernel.close();
            for (OpenClBuffer b : scratch) b.close();
            throw e;
        }
        long[][] blocks = perBlock, aLaunch = transposeA;
        ClPlan.MultiBody body = (kernels, stream, args) -> {
            ClKernel multiply = kernels.getLast();
            OpenClBuffer rowPtr = ClPlan.buf(multiply, args, Arg.ROW_PTR), colIdx = ClPlan.buf(multiply, args, Arg.COL_IDX);
            OpenClBuffer values = ClPlan.buf(multiply, args, Arg.VALUES), a = ClPlan.buf(multiply, args, Arg.A);
            OpenClBuffer c = ClPlan.buf(multiply, args, Arg.C);
            if (transposeS) {
                OpenClBuffer tPtr = scratch.get(0), tIdx = scratch.get(1), tVal = scratch.get(2);
                if (serialTranspose) {
                    kernels.get(0).launch(stream, blocks[0], blocks[1], rowPtr, colIdx, values, tPtr, tIdx, tVal, k, n);
                } else {
                    kernels.get(0).launch(stream, blocks[0], blocks[1], rowPtr, colIdx, tPtr, k, n);
                    kernels.get(1).launch(stream, new long[] {1}, new long[] {1}, tPtr, n);
                    kernels.get(2).launch(stream, blocks[0], blocks[1], rowPtr, colIdx, values, tPtr, tIdx, tVal, k, n);
                }
                rowPtr = tPtr;
                colIdx = tIdx;
                values = tVal;
            }
            if (lanes) {
                OpenClBuffer at = scratch.getLast();
                kernels.get(kernels.size() - 2).launch(stream, aLaunch[0], aLaunch[1], a, at, m, k, (int) mp);
                multiply.launch(stream, product[0], product[1], rowPtr, colIdx, values, at, c, m, n, (int) mp);
            } else {
                multiply.launch(stream, product[0], product[1], rowPtr, colIdx, values, a, c, m, n, k);
            }
        };
        String variant = (d.transposeSparse() ? "-t" : "-n") + (lanes ? "" : "-in-place");
        return new ClPlan(d, name() + variant, ks, body, scratch);
    }
}
