package dev.kiln.opencl;

import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.verify.Parity;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Build failures, error names and capability answers. */
class OpenClErrorTest {
    @Test void brokenSourceGivesBuildFailureWithTheLog() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            long programs = ClLive.live(ClLive.Kind.PROGRAM);
            String broken = "__kernel void broken(__global float* x) {\n    x[0] = 1.0f;\n    x[1] = undeclared_name;\n}\n";
            OpenClException e = assertThrows(OpenClException.class, () -> device.programs().program("broken.cl", broken, ""));
            assertEquals(-11, e.code());
            assertEquals("clBuildProgram", e.op());
            assertTrue(e.getMessage().contains("CL_BUILD_PROGRAM_FAILURE"), e.getMessage());
            assertTrue(e.getMessage().contains("broken.cl"), "names the program: " + e.getMessage());
            assertTrue(e.getMessage().contains("undeclared_name"), "build log names the identifier: " + e.getMessage());
            assertTrue(e.getMessage().matches("(?s).*:3:\\d+.*"), "build log names line 3: " + e.getMessage());
            assertEquals(programs, ClLive.live(ClLive.Kind.PROGRAM), "the failed program was released");
        }
    }

    @Test void programsAreBuiltOncePerSource() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            String src = "__kernel void twice(__global float* x) { x[get_global_id(0)] *= 2.0f; }\n";
            var first = device.programs().program("a", src, "");
            int size = device.programs().size();
            assertSame(first, device.programs().program("b", src, ""));
            assertEquals(size, device.programs().size());
            OpenClException e = assertThrows(OpenClException.class, () -> device.programs().kernel(first, "no_such_kernel"));
            assertTrue(e.getMessage().contains("CL_INVALID_KERNEL_NAME") && e.getMessage().contains("no_such_kernel"), e.getMessage());
        }
    }

    @Test void errorNamesComeFromTheTable() {
        assertEquals("CL_OUT_OF_RESOURCES", OpenClException.errorName(-5));
        assertEquals("CL_INVALID_WORK_GROUP_SIZE", OpenClException.errorName(-54));
        assertEquals("CL_UNKNOWN_ERROR", OpenClException.errorName(-9999));
        String m = new OpenClException("clEnqueueNDRangeKernel", "gemm_f32", -54, null).getMessage();
        assertTrue(m.contains("clEnqueueNDRangeKernel") && m.contains("gemm_f32") && m.contains("CL_INVALID_WORK_GROUP_SIZE") && m.contains("-54"), m);
    }

    @Test void unsupportedOpsSayWhy() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            var f64 = GemmDesc.of(DType.F64, Transpose.N, Transpose.N, 3, 3, 3, 1, 0);
            // f64 GEMM runs where the device has cl_khr_fp64 (POCL does) and is declined naming it elsewhere.
            if (device.fp64()) assertTrue(device.supports(f64).ok(), device.supports(f64).reason());
            else assertTrue(device.supports(f64).reason().contains("cl_khr_fp64"), device.supports(f64).reason());
            // Every qgemm type runs; the scaled outputs (formed in double) only where the device has cl_khr_fp64.
            var s4 = QGemmDesc.s4(2, 3, 4, 2);
            assertTrue(device.supports(s4).ok(), device.supports(s4).reason());
            var b1 = QGemmDesc.binary(2, 3, 9, DType.F32);
            if (device.fp64()) assertTrue(device.supports(b1).ok(), device.supports(b1).reason());
            else assertTrue(device.supports(b1).reason().contains("cl_khr_fp64"), device.supports(b1).reason());
            // A family with no kernels here (if any is left) is declined naming it, so dispatch falls back.
            for (OpKind kind : OpKind.values()) {
                if (!device.implementations(kind).isEmpty()) continue;
                var first = Parity.cases(kind, 1).getFirst();
                assertEquals("opencl: no " + kind.lower() + " kernels yet", device.supports(first).reason());
            }
            // Broadcasting beyond what the kernel's folded rank holds is declined with the folded count.
            var wide = new BinaryDesc(BinaryOp.ADD, Shape.of(2, 1, 2, 1, 2, 1, 2, 1), Shape.of(1, 2, 1, 2, 1, 2, 1, 2));
            assertFalse(device.supports(wide).ok());
            assertTrue(device.supports(wide).reason().contains("8 dimensions after merging"), device.supports(wide).reason());
            assertEquals(50, device.priority(), "POCL is a CPU-type device and ranks below the native CPU backend");
            assertTrue(device.estimatedGflops() > 0 && device.memoryBytes() > 0);
        }
    }
}
