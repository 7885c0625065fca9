package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * Sum, mean, max and argmax along the middle axis of outer x length x inner ({@code reduce.cu}), with the
 * same choice as {@link CudaSoftmax} between a block per row and a thread per column.
 */
final class CudaReduce extends CudaKernel {
    CudaReduce(CudaDevice device) { super(device, "cuda-reduce", OpKind.REDUCE); }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof ReduceDesc ? Support.YES : Support.no("not a reduce descriptor: " + desc.opName());
    }

    @Override public Plan plan(OpDesc desc) {
        ReduceDesc d = (ReduceDesc) desc;
        boolean argmax = d.op() == ReduceOp.ARGMAX;
        int op = d.op().ordinal();   // OP_SUM, OP_MEAN, OP_MAX in reduce.cu
        if (CudaSoftmax.useRows(d.inner(), d.length())) {
            CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.REDUCE,
                    argmax ? DeviceCode.ARGMAX_ROWS : DeviceCode.REDUCE_ROWS);
            int threads = CudaSoftmax.rowThreads(d.length()), blocks = CudaSoftmax.rowBlocks(d.outer());
            return plan(d, (stream, args) -> {
                if (argmax)
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, threads,
                            buffer(args, Arg.SRC, d), buffer(args, Arg.DST, d), d.outer(), d.length());
                else
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, threads,
                            buffer(args, Arg.SRC, d), buffer(args, Arg.DST, d), d.outer(), d.length(), op);
            });
        }
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.REDUCE,
                argmax ? DeviceCode.ARGMAX_COLS : DeviceCode.REDUCE_COLS);
        int blocks = blocks((long) d.outer() * d.inner(), THREADS);
        return plan(d, (stream, args) -> {
            if (argmax)
                kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                        buffer(args, Arg.SRC, d), buffer(args, Arg.DST, d), d.outer(), d.length(), d.inner());
            else
                kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                        buffer(args, Arg.SRC, d), buffer(args, Arg.DST, d), d.outer(), d.length(), d.inner(), op);
        });
    }
}
