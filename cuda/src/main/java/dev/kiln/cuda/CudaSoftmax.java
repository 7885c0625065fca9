package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * Softmax and log-softmax, forward and backward, along the middle axis of outer x length x inner
 * ({@code softmax.cu}). Rows (inner == 1) longer than a warp get a block each, with 32 to 256 threads as
 * the length needs; everything else gets a thread per column.
 */
final class CudaSoftmax extends CudaKernel {
    CudaSoftmax(CudaDevice device) { super(device, "cuda-softmax", OpKind.SOFTMAX); }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof SoftmaxDesc ? Support.YES : Support.no("not a softmax descriptor: " + desc.opName());
    }

    @Override public Plan plan(OpDesc desc) {
        SoftmaxDesc d = (SoftmaxDesc) desc;
        boolean fwd = d.pass() == Pass.FORWARD;
        int log = d.log() ? 1 : 0;
        Arg in = fwd ? Arg.SRC : Arg.DST, out = fwd ? Arg.DST : Arg.DIFF_SRC;
        if (useRows(d.inner(), d.length())) {
            CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.SOFTMAX,
                    fwd ? DeviceCode.SOFTMAX_ROWS_FWD : DeviceCode.SOFTMAX_ROWS_BWD);
            int threads = rowThreads(d.length()), blocks = rowBlocks(d.outer());
            return plan(d, (stream, args) -> {
                if (fwd)
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, threads,
                            buffer(args, in, d), buffer(args, out, d), d.outer(), d.length(), log);
                else
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, threads,
                            buffer(args, in, d), buffer(args, Arg.DIFF_DST, d), buffer(args, out, d), d.outer(), d.length(), log);
            });
        }
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.SOFTMAX,
                fwd ? DeviceCode.SOFTMAX_COLS_FWD : DeviceCode.SOFTMAX_COLS_BWD);
        int blocks = blocks((long) d.outer() * d.inner(), THREADS);
        return plan(d, (stream, args) -> {
            if (fwd)
                kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                        buffer(args, in, d), buffer(args, out, d), d.outer(), d.length(), d.inner(), log);
            else
                kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                        buffer(args, in, d), buffer(args, Arg.DIFF_DST, d), buffer(args, out, d),
                        d.outer(), d.length(), d.inner(), log);
        });
    }

    /** A block per row pays when rows are contiguous and longer than a warp. */
    static boolean useRows(int inner, int length) { return inner == 1 && length > 32; }

    /** Threads for a block per row: the power of two covering the row, 32 to 256. */
    static int rowThreads(int length) {
        return Math.clamp(Integer.highestOneBit(Math.max(1, length - 1)) << 1, 32, 256);
    }

    /** Blocks for the row kernels: one per row up to 2^20, grid-stride beyond. */
    static int rowBlocks(int rows) { return Math.min(rows, 1 << 20); }
}
