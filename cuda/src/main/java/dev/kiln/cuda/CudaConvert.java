package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * f32 to f16 / bf16 and back ({@code convert.cu}), bit for bit the reference ({@link ConvertDesc}): integer
 * arithmetic on the bit patterns, one thread per element.
 */
final class CudaConvert extends CudaKernel {
    CudaConvert(CudaDevice device) { super(device, "cuda-convert", OpKind.CONVERT); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof ConvertDesc)) return Support.no("not a convert descriptor: " + desc.opName());
        return Support.YES;   // the record admits only the four conversions convert.cu has
    }

    /** convert_f32_f16, convert_f16_f32, convert_f32_bf16 or convert_bf16_f32. */
    static String entry(ConvertDesc d) {
        return "convert_" + d.from().lower() + "_" + d.to().lower();
    }

    @Override public Plan plan(OpDesc desc) {
        ConvertDesc d = (ConvertDesc) desc;
        assert d.from() == DType.F32 || d.to() == DType.F32;
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.CONVERT, entry(d));
        int blocks = blocks(d.count(), THREADS);
        return plan(d, (stream, args) -> {
            if (d.count() == 0) return;   // empty buffers have no device pointer
            kernel.launch(d.opName(), stream(stream, d), blocks, 1, 1, THREADS, buffer(args, Arg.SRC, d), buffer(args, Arg.DST, d), d.count());
        });
    }
}
