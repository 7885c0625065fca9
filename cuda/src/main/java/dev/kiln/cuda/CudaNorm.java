package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * Batch, layer and RMS norm ({@code norm.cu}): training forward (writes MEAN and RSTD), batch-norm inference
 * and backward. Training and backward run one block of {@value #THREADS} threads per statistic with a
 * fixed-shape shared-memory tree, so they are deterministic; layer/RMS parameter gradients, which span the
 * rows, take a second kernel with one thread per channel. RMS norm has no BETA, MEAN or DIFF_BETA: null
 * pointers, which the kernels never touch.
 */
final class CudaNorm extends CudaKernel {
    /** NORM_THREADS in norm.cu: the block size the training and backward kernels are written for. */
    static final int THREADS = 128;
    static final int MAX_BLOCKS = 65535;

    CudaNorm(CudaDevice device) { super(device, "cuda-norm", OpKind.NORM); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof NormDesc d)) return Support.no("not a normalisation descriptor: " + desc.opName());
        Support f32 = F32Only.check("cuda-norm", d);
        if (!f32.ok()) return f32;
        long per = d.count() / d.stats();
        if (per > Integer.MAX_VALUE)
            return Support.no("cuda-norm: statistics over more than 2^31-1 elements are not supported (" + per + ")");
        return Support.YES;
    }

    /**
     * NORM_SET_PARAMS of norm.cu: sets, elements per set, and the layout of a set (see norm.cu): batch norm's
     * set is a channel strided over the images, layer/RMS norm's a contiguous row.
     */
    static Object[] setArgs(NormDesc d) {
        boolean batch = d.norm() == NormKind.BATCH;
        int per = (int) (d.count() / d.stats());
        int inner = batch ? d.spatial() : d.c();
        long outerStride = batch ? (long) d.c() * d.spatial() : 0, setStride = batch ? d.spatial() : d.c();
        return new Object[] {d.stats(), per, inner, outerStride, setStride, batch ? 1 : 0};
    }

    /** Blocks for the per-set kernels: one per set up to the grid limit we use (the kernels loop past it). */
    static int setBlocks(NormDesc d) { return Math.min(d.stats(), MAX_BLOCKS); }

    @Override public Plan plan(OpDesc desc) {
        NormDesc d = (NormDesc) desc;
        assert check(d).ok() : check(d).reason();
        boolean batch = d.norm() == NormKind.BATCH, rms = d.norm() == NormKind.RMS;
        Object[] set = setArgs(d);
        int blocks = setBlocks(d);
        float eps = (float) d.eps();
        return switch (d.mode()) {
            case TRAINING -> {
                CudaModules.Kernel k = device.modules().kernel(DeviceCode.Family.NORM, DeviceCode.NORM_FWD_TRAIN);
                yield plan(d, (stream, args) -> k.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                        CudaBroadcast.cat(new Object[] {rms ? 1 : 0, eps}, CudaBroadcast.cat(set,
                                buffer(args, Arg.SRC, d), buffer(args, Arg.GAMMA, d), rms ? null : buffer(args, Arg.BETA, d),
                                buffer(args, Arg.DST, d), rms ? null : buffer(args, Arg.MEAN, d), buffer(args, Arg.RSTD, d)))));
            }
            case INFERENCE -> {
                CudaModules.Kernel k = device.modules().kernel(DeviceCode.Family.NORM, DeviceCode.NORM_INFERENCE);
                int b = blocks(d.count(), CudaKernel.THREADS);
                yield plan(d, (stream, args) -> k.launch(d.opName(), stream(stream, d), b, 1, 1, CudaKernel.THREADS,
                        buffer(args, Arg.SRC, d), buffer(args, Arg.GAMMA, d), buffer(args, Arg.BETA, d),
                        buffer(args, Arg.MEAN, d), buffer(args, Arg.VARIANCE, d), buffer(args, Arg.DST, d),
                        d.count(), d.c(), d.spatial(), eps));
            }
            case BACKWARD -> {
                CudaModules.Kernel k = device.modules().kernel(DeviceCode.Family.NORM, DeviceCode.NORM_BWD);
                CudaModules.Kernel params = batch ? null : device.modules().kernel(DeviceCode.Family.NORM, DeviceCode.NORM_PARAM_GRAD);
                int paramBlocks = blocks(d.c(), CudaKernel.THREADS);
                yield plan(d, (stream, args) -> {
                    CudaStream s = stream(stream, d);
                    CudaBuffer x = buffer(args, Arg.SRC, d), rstd = buffer(args, Arg.RSTD, d), dy = buffer(args, Arg.DIFF_DST, d);
                    CudaBuffer dgamma = buffer(args, Arg.DIFF_GAMMA, d);
                    CudaBuffer mean = rms ? null : buffer(args, Arg.MEAN, d), dbeta = rms ? null : buffer(args, Arg.DIFF_BETA, d);
                    k.launch(d.opName(), s, blocks, 1, 1, THREADS, CudaBroadcast.cat(new Object[] {rms ? 1 : 0, batch ? 1 : 0},
                            CudaBroadcast.cat(set, x, buffer(args, Arg.GAMMA, d), mean, rstd, dy, buffer(args, Arg.DIFF_SRC, d),
                                    dgamma, dbeta)));
                    if (params != null)
                        params.launch(d.opName(), s, paramBlocks, 1, 1, CudaKernel.THREADS, x, mean, rstd, dy, dgamma, dbeta,
                                d.n(), d.c(), rms ? 1 : 0);
                });
            }
        };
    }
}
