package dev.kiln.dispatch;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each operand of a call lives, in the order of {@link OpDesc#args()}: all that a decision depends
 * on besides the descriptor, so (descriptor, placement) is the decision cache key. Host memory is one
 * place whichever host-memory device allocated it.
 */
record Placement(List<Where> where) {
    /** One operand's home: {@code device == null} for plain host memory. */
    record Where(Device device, boolean host) {
        static final Where HOST = new Where(null, true);

        static Where of(DeviceBuffer b) {
            if (b == null) return HOST;
            Device d = b.device();
            if (b.isHost() && (d == null || d.usesHostMemory())) return HOST;
            return new Where(d, b.isHost());
        }

        /** True when a kernel on {@code target} can use the operand where it is. */
        boolean usableOn(Device target) {
            return (device != null && device == target) || (host && target.usesHostMemory());
        }

        String label() {
            return device == null ? "host" : Router.copyLabel(device);
        }
    }

    static Placement of(List<ArgSpec> specs, Args args) {
        List<Where> list = new ArrayList<>(specs.size());
        for (ArgSpec s : specs) list.add(Where.of(args == null ? null : args.get(s.arg())));
        return new Placement(List.copyOf(list));
    }

    boolean allHost() {
        for (Where w : where) if (w.device != null) return false;
        return true;
    }

    /** The device (not host memory) holding the most operand bytes, or null when all are on the host. */
    Device residentDevice(OpDesc desc) {
        Map<Device, Long> bytes = new IdentityHashMap<>();
        List<ArgSpec> specs = desc.args();
        Device best = null;
        long most = -1;
        for (int i = 0; i < specs.size(); i++) {
            Device d = where.get(i).device;
            if (d == null) continue;
            long total = bytes.merge(d, specs.get(i).dtype().bytes(specs.get(i).count()), Long::sum);
            if (total > most) {
                most = total;
                best = d;
            }
        }
        return best;
    }
}
