package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Sampled dense-dense product (sddmm.cl): one work-item per four consecutive stored entries of the mask,
 * finding their row by a binary search of the row pointers and summing each dot product over k in f32 (the reference sums in
 * double, within the harness's tolerance). The reduce-over-rows variant (the sparse weight gradient) first
 * transposes A and B into row-major scratch held by the plan, so both variants run the same product kernel;
 * inputs whose scratch would exceed {@value #SCRATCH_MIB} MiB are read in place by a slower kernel instead.
 * An empty mask launches nothing. Indices are trusted as the reference trusts them: the facade checks
 * sizes, not index contents.
 */
final class OpenClSddmm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("sddmm.cl");
    /** The most scratch (transposed A and B) a reduce-over-rows plan allocates. */
    static final int SCRATCH_MIB = 256;
    /** Stored entries per work-item of the sddmm kernel (sddmm.cl's four). */
    static final int ENTRIES_PER_ITEM = 4;

    private final OpenClDevice device;

    OpenClSddmm(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-sddmm"; }

    @Override public OpKind kind() { return OpKind.SDDMM; }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof SddmmDesc ? Support.YES : Support.no("not an sddmm");
    }

    @Override public Plan plan(OpDesc desc) { return plan((SddmmDesc) desc, (long) SCRATCH_MIB << 20); }

    /** With at most {@code scratchBytes} of scratch for the transposed inputs (tests force the in-place kernel with 0). */
    Plan plan(SddmmDesc d, long scratchBytes) {
        if (!d.reduceOverRows()) return direct(d, "sddmm", name());
        long bytes = DType.F32.bytes(((long) d.m() + d.n()) * d.k());
        return bytes <= scratchBytes ? transposed(d) : direct(d, "sddmm_t", name() + "-t-in-place");
    }

    /** One kernel over the inputs as given: {@code sddmm} (row-major) or {@code sddmm_t} (reduced over rows, in place). */
    private Plan direct(SddmmDesc d, String kernelName, String implementation) {
        ClKernel kernel = ClPlan.kernels(device, "sddmm.cl", SOURCE, kernelName).getFirst();
        long[][] launch;
        try {
            launch = ClPlan.linear(kernel, workItems(d, kernelName), 64);
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        return new ClPlan(d, implementation, kernel, (k, stream, args) -> {
            OpenClBuffer a = ClPlan.buf(k, args, Arg.A), b = ClPlan.buf(k, args, Arg.B);
            product(d, k, launch, stream, a, b, ClPlan.buf(k, args, Arg.ROW_PTR), ClPlan.buf(k, args, Arg.COL_IDX), ClPlan.buf(k, args, Arg.VALUES));
        });
    }

    /** {@code sddmm} takes {@value #ENTRIES_PER_ITEM} consecutive entries per work-item, {@code sddmm_t} one (at least one work-item). */
    private static long workItems(SddmmDesc d, String kernelName) {
        return Math.max(1, kernelName.equals("sddmm") ? Math.ceilDiv(d.nnz(), ENTRIES_PER_ITEM) : d.nnz());
    }

    /** The entries' dot products; an empty mask has nothing to write, and OpenCL rejects an empty launch. */
    private static void product(SddmmDesc d, ClKernel k, long[][] launch, OpenClStream stream, OpenClBuffer a, OpenClBuffer b,
                                OpenClBuffer rowPtr, OpenClBuffer colIdx, OpenClBuffer values) {
        if (d.nnz() == 0) return;
        k.launch(stream, launch[0], launch[1], a, b, rowPtr, colIdx, values, d.m(), d.n(), d.k(), d.nnz());
    }

    /** A (k x m) and B (k x n) transposed into scratch, then the row-major product. */
    private Plan transposed(SddmmDesc d) {
        int m = d.m(), n = d.n(), k = d.k();
        List<ClKernel> ks = new ArrayList<>(2);
        List<OpenClBuffer> scratch = new ArrayList<>(2);
        long[][] aLaunch, bLaunch, launch;
        try {
            ks.addAll(ClPlan.kernels(device, "sddmm.cl", SOURCE, "sddmm_transpose", "sddmm"));
            aLaunch = OpenClSparse.rows(ks.get(0), m, k);
            bLaunch = OpenClSparse.rows(ks.get(0), n, k);
            launch = ClPlan.linear(ks.get(1), workItems(d, "sddmm"), 64);
            scratch.add(device.allocate(DType.F32, (long) m * k));
            scratch.add(device.allocate(DType.F32, (long) n * k));
        } catch (RuntimeException e) {
            for (ClKernel kernel : ks) kernel.close();
            for (OpenClBuffer b : scratch) b.close();
            throw e;
        }
        OpenClBuffer at = scratch.get(0), bt = scratch.get(1);
        ClPlan.MultiBody body = (kernels, stream, args) -> {
            ClKernel transpose = kernels.get(0), product = kernels.get(1);
            OpenClBuffer a = ClPlan.buf(transpose, args, Arg.A), b = ClPlan.buf(transpose, args, Arg.B);
            OpenClBuffer rowPtr = ClPlan.buf(product, args, Arg.ROW_PTR), colIdx = ClPlan.buf(product, args, Arg.COL_IDX);
            OpenClBuffer values = ClPlan.buf(product, args, Arg.VALUES);
            if (d.nnz() == 0) return;
            transpose.launch(stream, aLaunch[0], aLaunch[1], a, at, k, m);
            transpose.launch(stream, bLaunch[0], bLaunch[1], b, bt, k, n);
            product(d, product, launch, stream, at, bt, rowPtr, colIdx, values);
        };
        return new ClPlan(d, name() + "-t", ks, body, scratch);
    }
}
