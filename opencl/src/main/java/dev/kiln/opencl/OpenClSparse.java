package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * Sparse times dense (sparse.cl): CSR, BSR and 2:4, each work-item owning {@value #LANES} adjacent output
 * columns of one row and walking the row's stored values in order with vector loads of B (f32
 * accumulation; the reference sums in double, within the harness's tolerance).
 * Indices are trusted as the reference trusts them: the facade checks sizes, not index contents.
 */
final class OpenClSparse implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("sparse.cl");
    /** Output columns per work-item (sparse.cl's float16). */
    static final int LANES = 16;

    private final OpenClDevice device;

    OpenClSparse(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-spmm"; }

    @Override public OpKind kind() { return OpKind.SPMM; }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof SpmmDesc ? Support.YES : Support.no("not an spmm");
    }

    @Override public Plan plan(OpDesc desc) {
        SpmmDesc d = (SpmmDesc) desc;
        String kernelName = switch (d.format()) { case CSR -> "spmm_csr"; case BSR -> "spmm_bsr"; case TWO_FOUR -> "spmm_24"; };
        ClKernel kernel = ClPlan.kernels(device, "sparse.cl", SOURCE, kernelName).getFirst();
        long[][] launch;
        try {
            launch = rows(kernel, Math.ceilDiv(d.n(), LANES), d.m());
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        return new ClPlan(d, name() + "-" + d.format().lower(), kernel, (k, stream, args) -> {
            OpenClBuffer b = ClPlan.buf(k, args, Arg.B), c = ClPlan.buf(k, args, Arg.C);
            switch (d.format()) {
                case CSR -> k.launch(stream, launch[0], launch[1], ClPlan.buf(k, args, Arg.ROW_PTR), ClPlan.buf(k, args, Arg.COL_IDX),
                        ClPlan.buf(k, args, Arg.VALUES), b, c, d.m(), d.n());
                case BSR -> k.launch(stream, launch[0], launch[1], ClPlan.buf(k, args, Arg.ROW_PTR), ClPlan.buf(k, args, Arg.COL_IDX),
                        ClPlan.buf(k, args, Arg.VALUES), b, c, d.m(), d.n(), d.blockRows(), d.blockCols());
                case TWO_FOUR -> k.launch(stream, launch[0], launch[1], ClPlan.buf(k, args, Arg.VALUES), ClPlan.buf(k, args, Arg.META),
                        b, c, d.m(), d.n(), d.k());
            }
        });
    }

    /**
     * {global, local} for {@code cols} x {@code rows} work-items (here one per block of output columns; the
     * dsmm and sddmm plans use it for their 2D launches too): groups up to 64 wide along the columns (fewer
     * for narrow extents), the column extent rounded up to whole groups.
     */
    static long[][] rows(ClKernel kernel, int cols, int rows) {
        long l = Math.min(64, Long.highestOneBit(Math.max(1, cols - 1)) << 1);
        l = Math.max(1, Math.min(l, kernel.maxWorkGroupSize()));
        return new long[][] {{Math.ceilDiv(cols, l) * l, rows}, {l, 1}};
    }
}
