package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.List;

/**
 * The sparse families on the GPU ({@code sparse.cu}): SpMM in CSR, BSR and 2:4 (SpMV is n = 1), dense times
 * sparse in both orientations ({@link DsmmDesc}) and SDDMM, plain and with transposed inputs. One instance per
 * op kind ("cuda-spmm", "cuda-dsmm", "cuda-sddmm"); the launch (kernel, grid, argument order) is worked out by
 * {@link CudaSparseLaunch} from the descriptor at plan time, and execution binds the operands and launches.
 * Every output has one owner and no kernel uses atomics, so results are the same bits run to run. Indices are
 * trusted as the references trust them: the facade checks sizes, not index contents.
 */
final class CudaSparse extends CudaKernel {
    CudaSparse(CudaDevice device, OpKind kind) { super(device, name(kind), kind); }

    /** cuda-spmm, cuda-dsmm or cuda-sddmm. */
    static String name(OpKind kind) {
        return switch (kind) {
            case SPMM -> "cuda-spmm";
            case DSMM -> "cuda-dsmm";
            case SDDMM -> "cuda-sddmm";
            default -> throw new IllegalArgumentException("cuda-sparse: no sparse kernels for " + kind);
        };
    }

    @Override public Support supports(OpDesc desc) { return check(kind(), desc); }

    /** The support answer for an instance of {@code kind}; it depends on the descriptor only. */
    static Support check(OpKind kind, OpDesc desc) {
        String name = name(kind);
        if (desc.kind() != kind) return Support.no(name + " takes " + kind.lower() + " descriptors, got " + desc.opName());
        long[] extents = switch (desc) {
            case SpmmDesc d -> new long[] {d.m(), d.n(), d.k(), d.nnz()};
            case DsmmDesc d -> new long[] {d.m(), d.n(), d.k(), d.nnz()};
            case SddmmDesc d -> new long[] {d.m(), d.n(), d.k(), d.nnz()};
            default -> null;
        };
        if (extents == null) return Support.no(name + ": unknown descriptor " + desc.getClass().getSimpleName());
        for (int i = 0; i < extents.length; i++)
            if (extents[i] > CudaSparseLaunch.MAX_EXTENT)
                return Support.no(name + " indexes with 32-bit ints and takes m, n, k and nnz up to 2^30, got "
                        + List.of("m", "n", "k", "nnz").get(i) + "=" + extents[i] + " (" + desc.shape() + ")");
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        assert check(kind(), desc).ok() : check(kind(), desc).reason();
        CudaSparseLaunch launch = CudaSparseLaunch.of(desc);
        if (launch == null) return plan(desc, (stream, args) -> stream(stream, desc));   // nothing to write (SDDMM, nnz = 0)
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.SPARSE, launch.entry());
        return plan(desc, (stream, args) -> {
            Object[] bound = new Object[launch.args().size()];
            for (int i = 0; i < bound.length; i++)
                bound[i] = launch.args().get(i) instanceof Arg a ? buffer(args, a, desc) : launch.args().get(i);
            kernel.launch(desc.opName(), stream(stream, desc), launch.gridX(), launch.gridY(), 1, launch.threads(), bound);
        });
    }
}
