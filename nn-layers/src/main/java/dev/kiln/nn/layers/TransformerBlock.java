package dev.kiln.nn.layers;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A transformer block over batch x t x width: self-attention and a GELU MLP (width to hidden to width), each
 * as a residual sublayer with layer norm placed as chosen:
 * <ul>
 * <li>{@code PRE}: x + F(LN(x)) (GPT-2 and most current models);</li>
 * <li>{@code POST}: LN(x + F(x)) (the original Transformer);</li>
 * <li>{@code PERI}: x + LN'(F(LN(x))), normalising each sublayer's input and output.</li>
 * </ul>
 */
public final class TransformerBlock implements Layer {
    public enum NormPlacement { PRE, POST, PERI }

    private final MultiHeadAttention attention;
    private final Linear up, down;
    private final LayerNorm ln1, ln2, ln1Out, ln2Out;
    private final NormPlacement placement;
    private final int width;

    public TransformerBlock(int width, int heads, int hidden, boolean causal, NormPlacement placement, SplittableRandom random) {
        if (placement == null) throw new IllegalArgumentException("transformer block: placement is null");
        if (hidden <= 0) throw new IllegalArgumentException("transformer block: hidden width must be > 0, got " + hidden);
        this.width = width;
        this.placement = placement;
        this.attention = new MultiHeadAttention(width, heads, causal, random);
        this.up = new Linear(width, hidden, random);
        this.down = new Linear(hidden, width, random);
        this.ln1 = LayerNorm.layer(width);
        this.ln2 = LayerNorm.layer(width);
        this.ln1Out = placement == NormPlacement.PERI ? LayerNorm.layer(width) : null;
        this.ln2Out = placement == NormPlacement.PERI ? LayerNorm.layer(width) : null;
    }

    @Override public Tensor forward(Tensor x) {
        x = sublayer(x, attention::forward, ln1, ln1Out);
        return sublayer(x, this::mlp, ln2, ln2Out);
    }

    private Tensor mlp(Tensor x) {
        int batch = x.dim(0), t = x.dim(1);
        Tensor h = Ops.gelu(up.forward(x.reshape(batch * t, width)));
        return down.forward(h).reshape(batch, t, width);
    }

    private Tensor sublayer(Tensor x, Layer f, LayerNorm norm, LayerNorm outNorm) {
        return switch (placement) {
            case PRE -> Ops.add(x, f.forward(norm.forward(x)));
            case POST -> norm.forward(Ops.add(x, f.forward(x)));
            case PERI -> Ops.add(x, outNorm.forward(f.forward(norm.forward(x))));
        };
    }

    @Override public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        add(all, "attn.", attention);
        add(all, "ln1.", ln1);
        if (ln1Out != null) add(all, "ln1_out.", ln1Out);
        add(all, "mlp.up.", up);
        add(all, "mlp.down.", down);
        add(all, "ln2.", ln2);
        if (ln2Out != null) add(all, "ln2_out.", ln2Out);
        return all;
    }

    private static void add(List<Parameter> all, String prefix, Layer l) {
        for (Parameter p : l.parameters()) all.add(new Parameter(prefix + p.name(), p.tensor()));
    }
}
