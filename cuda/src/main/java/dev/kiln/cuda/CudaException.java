package dev.kiln.cuda;

import jcuda.driver.CUresult;

/**
 * A CUDA driver (or cuBLAS) call failed. The message names the operation and the error by name, e.g.
 * {@code "gemm: launch sgemm_nn on NVIDIA H100 (grid 8x8x1, block 256): CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"}.
 */
public final class CudaException extends RuntimeException {
    private final int result;

    private CudaException(int result, String message) {
        super(message);
        this.result = result;
    }

    /** A driver call of {@code op} returned {@code result}. */
    CudaException(String op, int result, String hint) {
        this(result, op + ": " + CUresult.stringFor(result) + (hint == null ? "" : " (" + hint + ")"));
    }

    CudaException(String op, int result) { this(op, result, null); }

    /** A failure of a CUDA library other than the driver (cuBLAS): the caller names the status itself. */
    static CudaException library(String op, String status, int code) {
        return new CudaException(code, op + ": " + status);
    }

    /** The {@link CUresult} code (or the library's status code, for {@link #library} failures). */
    public int result() { return result; }

    /** Throws a {@link CudaException} naming {@code op} unless {@code result} is {@code CUDA_SUCCESS}. */
    static void check(String op, int result) {
        if (result != CUresult.CUDA_SUCCESS) throw new CudaException(op, result);
    }
}
