package dev.kiln.cli;

import dev.kiln.nn.quant.QuantMode;
import dev.kiln.nn.quant.Quantization;
import dev.kiln.nn.quant.QuantizedModel;
import dev.kiln.nn.train.Trainer;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * The quantisation side of {@code kiln train --qat MODE}: switching it on (or checking it against a resumed
 * run's), and after training the test set run on the truly quantised model (the low-bit GEMM kernels)
 * beside the fake-quantised evaluation the epochs reported.
 */
final class QatOutputs {
    private QatOutputs() {}

    /** Enables {@code mode} on a fresh run, or checks a resumed run trains the same way; returns an error message or null. */
    static String enable(Trainer trainer, QuantMode mode, boolean resumed) {
        if (resumed) {
            if (trainer.qat() != mode)
                return "--qat " + mode.lower() + ": the checkpoint holds " + (trainer.qat() == null ? "an f32 run" : "a --qat " + trainer.qat().lower() + " run");
            return null;
        }
        trainer.enableQat(mode);
        return null;
    }

    /** Evaluates the quantised model and prints it against the fake-quantised evaluation. */
    static void report(Trainer trainer, PrintWriter out) {
        for (String line : Quantization.describe(trainer.model())) out.println("  " + line);
        Trainer.Evaluation fake = trainer.evaluate();
        try (QuantizedModel quantized = Quantization.convert(trainer.model())) {
            long start = System.nanoTime();
            Trainer.Evaluation real = trainer.evaluate(quantized::forward);
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "quantised %s model (low-bit GEMM kernels): test accuracy %.4f (%.1f samples/s); fake-quantised: %.4f; difference %+.4f%n",
                    trainer.qat().lower(), real.accuracy(), real.samples() / Math.max(seconds, 1e-9), fake.accuracy(),
                    real.accuracy() - fake.accuracy());
        }
    }
}
