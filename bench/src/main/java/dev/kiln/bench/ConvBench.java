package dev.kiln.bench;

import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The cases of {@code kiln bench conv}: 2D convolutions given as {@code N,C,H,W,K,R,S,stride,pad,groups}
 * (square stride and padding, no dilation, no bias), in the directions fwd, bwd-data and bwd-weights. Each
 * is checked at batch 1 against the reference (the reference needs seconds per GFLOP) and timed at its own
 * batch by {@link OpBench}. Rows name the op {@code conv}, {@code depthwise} (groups = C = K) or {@code
 * grouped}; depthwise rows are memory-bound and are read by their GB/s and share of the bandwidth.
 */
final class ConvBench {
    private ConvBench() {}

    /**
     * The CPU issue's shapes at batch 32: 3x3 C64->K64 56x56 pad 1; 7x7 stride 2 C3->K64 224x224 pad 3 (a
     * ResNet stem); 1x1 C256->K64 28x28; depthwise 3x3 C256 28x28 pad 1.
     */
    static final List<String> DEFAULT_SHAPES = List.of("32,64,56,56,64,3,3,1,1,1", "32,3,224,224,64,7,7,2,3,1",
            "32,256,28,28,64,1,1,1,0,1", "32,256,28,28,256,3,3,1,1,256");
    static final String DEFAULT_DIRECTIONS = "fwd,bwd-data,bwd-weights";

    /** One parsed shape: the descriptor at the given batch (forward) and its canonical comma string. */
    record Shape(String spec, ConvDesc forward) {
        /** Parses {@code N,C,H,W,K,R,S,stride,pad,groups}; the descriptor checks the numbers' consistency. */
        static Shape parse(String text) {
            String[] f = text.strip().split(",");
            int[] v = new int[f.length];
            try {
                if (f.length != 10) throw new NumberFormatException();
                for (int i = 0; i < f.length; i++) v[i] = Integer.parseInt(f[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bench conv: bad shape '" + text.strip() + "' (use N,C,H,W,K,R,S,stride,pad,groups:"
                        + " ten integers)");
            }
            ConvDesc d = ConvDesc.conv2d(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]).withGroups(v[9]);
            StringBuilder s = new StringBuilder();
            for (int x : v) s.append(s.isEmpty() ? "" : ",").append(x);
            return new Shape(s.toString(), d);
        }

        String op() {
            ConvDesc d = forward;
            if (d.groups() == 1) return "conv";
            return d.groups() == d.c() && d.groups() == d.k() ? "depthwise" : "grouped";
        }

        /** The same convolution at batch 1, for the reference check. */
        ConvDesc single() {
            ConvDesc d = forward;
            return ConvDesc.conv2d(1, d.c(), d.h(), d.w(), d.k(), d.r(), d.s(), d.strideH(), d.padH()).withGroups(d.groups());
        }
    }

    /** fwd, bwd-data, bwd-weights to passes, in the given order. */
    static List<ConvPass> directions(String spec) {
        List<ConvPass> out = new ArrayList<>();
        for (String part : spec.split(",")) {
            String p = part.strip().toLowerCase(Locale.ROOT);
            if (p.isEmpty()) continue;
            out.add(switch (p) {
                case "fwd" -> ConvPass.FORWARD;
                case "bwd-data" -> ConvPass.BACKWARD_DATA;
                case "bwd-weights" -> ConvPass.BACKWARD_WEIGHTS;
                default -> throw new IllegalArgumentException("bench conv: bad direction '" + part.strip() + "' (use fwd, bwd-data, bwd-weights)");
            });
        }
        if (out.isEmpty()) throw new IllegalArgumentException("bench conv: no directions in '" + spec + "'");
        return out;
    }

    static String direction(ConvPass pass) {
        return switch (pass) {
            case FORWARD -> "fwd";
            case BACKWARD_DATA -> "bwd-data";
            case BACKWARD_WEIGHTS -> "bwd-weights";
        };
    }

    /** Every (shape, direction) as a case, shapes outer. */
    static List<OpBench.Case> cases(List<String> shapes, List<ConvPass> passes) {
        List<OpBench.Case> cases = new ArrayList<>();
        for (String text : shapes) {
            Shape s = Shape.parse(text);
            for (ConvPass p : passes)
                cases.add(new OpBench.Case(s.op(), s.spec(), direction(p), s.forward().withPass(p), s.single().withPass(p)));
        }
        return cases;
    }
}
