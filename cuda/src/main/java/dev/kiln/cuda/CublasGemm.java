package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;
import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;

/**
 * GEMM through cuBLAS, f32 and f64, batched, without an epilogue; listed after {@link CudaGemm}, so in
 * practice it serves f64 and whatever dispatch forces to it. Only created where JCublas loaded.
 *
 * <p>cuBLAS is column-major. A row-major m x n matrix with leading dimension ld is, read column-major,
 * its transpose (n x m, same ld), so row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T:
 * one cuBLAS call with the operands swapped (B first), each keeping its own transpose flag, and m and n
 * swapped. cuBLAS does not read C when beta is 0, as the descriptor requires.
 */
final class CublasGemm extends CudaKernel {
    private cublasHandle handle;   // created on first plan, destroyed by close()

    CublasGemm(CudaDevice device) { super(device, "cublas-gemm", OpKind.GEMM); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof GemmDesc d)) return Support.no("not a gemm descriptor: " + desc.opName());
        if (d.bias() || d.activation() != Activation.NONE)
            return Support.no("cublas-gemm has no bias or activation epilogue");
        if (d.dtype() != DType.F32 && d.dtype() != DType.F64)
            return Support.no("cublas-gemm takes f32 or f64, got " + d.dtype().lower());
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        GemmDesc d = (GemmDesc) desc;
        assert check(d).ok() : check(d).reason();
        cublasHandle h = handle();
        boolean f64 = d.dtype() == DType.F64;
        Pointer alpha = f64 ? Pointer.to(new double[] {d.alpha()}) : Pointer.to(new float[] {(float) d.alpha()});
        Pointer beta = f64 ? Pointer.to(new double[] {d.beta()}) : Pointer.to(new float[] {(float) d.beta()});
        int opFirst = op(d.transB()), opSecond = op(d.transA());
        return plan(d, (stream, args) -> {
            if (d.m() == 0 || d.n() == 0) return;
            CudaStream s = stream(stream, d);
            Pointer a = buffer(args, Arg.A, d).pointer(), b = buffer(args, Arg.B, d).pointer(), c = buffer(args, Arg.C, d).pointer();
            synchronized (this) {   // the handle's stream is per call; one caller at a time
                device.makeCurrent();
                check(d, "cublasSetStream", JCublas2.cublasSetStream(h, new cudaStream_t(s.handle())));
                int status;
                if (d.batch() == 1)
                    status = f64
                            ? JCublas2.cublasDgemm(h, opFirst, opSecond, d.n(), d.m(), d.k(), alpha, b, d.ldb(), a, d.lda(), beta, c, d.ldc())
                            : JCublas2.cublasSgemm(h, opFirst, opSecond, d.n(), d.m(), d.k(), alpha, b, d.ldb(), a, d.lda(), beta, c, d.ldc());
                else
                    status = f64
                            ? JCublas2.cublasDgemmStridedBatched(h, opFirst, opSecond, d.n(), d.m(), d.k(), alpha, b, d.ldb(),
                                    d.strideB(), a, d.lda(), d.strideA(), beta, c, d.ldc(), d.strideC(), d.batch())
                            : JCublas2.cublasSgemmStridedBatched(h, opFirst, opSecond, d.n(), d.m(), d.k(), alpha, b, d.ldb(),
                                    d.strideB(), a, d.lda(), d.strideA(), beta, c, d.ldc(), d.strideC(), d.batch());
                check(d, f64 ? "cublasDgemm" : "cublasSgemm", status);
            }
        });
    }

    private synchronized cublasHandle handle() {
        if (handle == null) {
            device.makeCurrent();
            cublasHandle h = new cublasHandle();
            int status = JCublas2.cublasCreate(h);
            if (status != cublasStatus.CUBLAS_STATUS_SUCCESS)
                throw CudaException.library("cublasCreate on " + device.name(), cublasStatus.stringFor(status), status);
            handle = h;
        }
        return handle;
    }

    /** Destroys the cuBLAS handle; called by the device before its context goes. */
    synchronized void close() {
        if (handle == null) return;
        device.makeCurrent();
        int status = JCublas2.cublasDestroy(handle);
        handle = null;
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS)
            throw CudaException.library("cublasDestroy on " + device.name(), cublasStatus.stringFor(status), status);
    }

    private static int op(Transpose t) { return t == Transpose.N ? cublasOperation.CUBLAS_OP_N : cublasOperation.CUBLAS_OP_T; }

    private void check(GemmDesc d, String call, int status) {
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS)
            throw CudaException.library(d.opName() + ": " + call + " on " + device.name() + " (" + d.shape() + ")",
                    cublasStatus.stringFor(status), status);
    }
}
