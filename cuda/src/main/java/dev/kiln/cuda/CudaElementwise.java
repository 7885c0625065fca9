package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * Elementwise ops from {@code elementwise.cu}: every unary op forward and backward, and the binary ops
 * forward and backward when both inputs have the same shape (broadcast shapes are declined with a
 * reason and taken by {@link CudaBroadcast}, next in the device's list). One grid-stride launch per call.
 */
final class CudaElementwise {
    private CudaElementwise() {}

    static final class Unary extends CudaKernel {
        Unary(CudaDevice device) { super(device, "cuda-unary", OpKind.UNARY); }

        @Override public Support supports(OpDesc desc) {
            return desc instanceof UnaryDesc ? Support.YES : Support.no("not a unary descriptor: " + desc.opName());
        }

        @Override public Plan plan(OpDesc desc) {
            UnaryDesc d = (UnaryDesc) desc;
            CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.ELEMENTWISE,
                    DeviceCode.unaryEntry(d.op(), d.pass()));
            long n = d.count();
            // The forward kernel handles four elements per thread (float4); the backward one, one.
            int blocks = blocks(d.pass() == Pass.FORWARD ? Math.ceilDiv(n, 4) : n, THREADS);
            return plan(d, (stream, args) -> {
                if (n == 0) return;
                if (d.pass() == Pass.FORWARD)
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                            buffer(args, Arg.SRC, d), buffer(args, Arg.DST, d), n);
                else
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                            buffer(args, Arg.SRC, d), buffer(args, Arg.DIFF_DST, d), buffer(args, Arg.DIFF_SRC, d), n);
            });
        }
    }

    static final class Binary extends CudaKernel {
        Binary(CudaDevice device) { super(device, "cuda-binary", OpKind.BINARY); }

        @Override public Support supports(OpDesc desc) { return check(desc); }

        /** The support answer, which depends on the descriptor only. */
        static Support check(OpDesc desc) {
            if (!(desc instanceof BinaryDesc d)) return Support.no("not a binary descriptor: " + desc.opName());
            if (!d.a().equals(d.b()))
                return Support.no("cuda-binary takes equal shapes (cuda-binary-broadcast takes the rest), got " + d.a() + " and " + d.b());
            return Support.YES;
        }

        @Override public Plan plan(OpDesc desc) {
            BinaryDesc d = (BinaryDesc) desc;
            assert check(d).ok() : check(d).reason();
            CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.ELEMENTWISE,
                    DeviceCode.binaryEntry(d.op(), d.pass()));
            long n = d.a().count();
            int blocks = blocks(d.pass() == Pass.FORWARD ? Math.ceilDiv(n, 4) : n, THREADS);
            return plan(d, (stream, args) -> {
                if (n == 0) return;
                if (d.pass() == Pass.FORWARD)
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                            buffer(args, Arg.SRC, d), buffer(args, Arg.SRC2, d), buffer(args, Arg.DST, d), n);
                else
                    kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS,
                            buffer(args, Arg.SRC, d), buffer(args, Arg.SRC2, d), buffer(args, Arg.DIFF_DST, d),
                            buffer(args, Arg.DIFF_SRC, d), buffer(args, Arg.DIFF_SRC2, d), n);
            });
        }
    }
}
