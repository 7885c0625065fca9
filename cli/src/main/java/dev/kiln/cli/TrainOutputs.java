package dev.kiln.cli;

import dev.kiln.kernels.io.Json;
import dev.kiln.nn.Profiler;
import dev.kiln.nn.train.EpochMetrics;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What {@code kiln train} leaves in its run folder: metrics as JSON and CSV, PNG plots, the profile. */
final class TrainOutputs {
    private TrainOutputs() {}

    static final String[] CLASSES = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"};

    static Map<String, Object> row(EpochMetrics m) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("epoch", m.epoch());
        r.put("train_loss", m.trainLoss());
        r.put("train_accuracy", m.trainAccuracy());
        r.put("test_loss", m.testLoss());
        r.put("test_accuracy", m.testAccuracy());
        r.put("train_seconds", m.trainSeconds());
        r.put("samples_per_second", m.samplesPerSecond());
        return r;
    }

    /** metrics.json (an array of epoch objects) and metrics.csv, rewritten after every epoch. */
    static void writeMetrics(Path run, List<EpochMetrics> epochs) throws IOException {
        List<Object> rows = new ArrayList<>();
        StringBuilder csv = new StringBuilder("epoch,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,samples_per_second\n");
        for (EpochMetrics m : epochs) {
            rows.add(row(m));
            csv.append(String.format(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f%n", m.epoch(), m.trainLoss(), m.trainAccuracy(),
                    m.testLoss(), m.testAccuracy(), m.trainSeconds(), m.samplesPerSecond()));
        }
        write(run.resolve("metrics.json"), Json.write(rows) + "\n");
        write(run.resolve("metrics.csv"), csv.toString());
    }

    /** The {@code --json} summary. */
    static void writeJson(Path file, String backend, String model, List<EpochMetrics> epochs, double accuracy) throws IOException {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("backend", backend);
        doc.put("model", model);
        List<Object> rows = new ArrayList<>();
        for (EpochMetrics m : epochs) rows.add(row(m));
        doc.put("epochs", rows);
        doc.put("test_accuracy", accuracy);
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        write(file, Json.write(doc) + "\n");
    }

    /** loss.png, accuracy.png and confusion.png (test set, true label by row). */
    static void writePlots(Path run, List<EpochMetrics> epochs, int[][] confusion) throws IOException {
        System.setProperty("java.awt.headless", "true");
        if (!epochs.isEmpty()) {
            double[] x = new double[epochs.size()], trainLoss = new double[x.length], testLoss = new double[x.length];
            double[] trainAcc = new double[x.length], testAcc = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                EpochMetrics m = epochs.get(i);
                x[i] = m.epoch();
                trainLoss[i] = m.trainLoss();
                testLoss[i] = m.testLoss();
                trainAcc[i] = m.trainAccuracy();
                testAcc[i] = m.testAccuracy();
            }
            XYChart loss = new XYChartBuilder().width(800).height(500).title("Loss").xAxisTitle("epoch").yAxisTitle("cross-entropy").build();
            loss.addSeries("train", x, trainLoss);
            loss.addSeries("test", x, testLoss);
            BitmapEncoder.saveBitmap(loss, run.resolve("loss.png").toString(), BitmapEncoder.BitmapFormat.PNG);
            XYChart acc = new XYChartBuilder().width(800).height(500).title("Accuracy").xAxisTitle("epoch").yAxisTitle("accuracy").build();
            acc.addSeries("train", x, trainAcc);
            acc.addSeries("test", x, testAcc);
            BitmapEncoder.saveBitmap(acc, run.resolve("accuracy.png").toString(), BitmapEncoder.BitmapFormat.PNG);
        }
        int k = confusion.length;
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < k; i++) labels.add(i < CLASSES.length ? CLASSES[i] : Integer.toString(i));
        List<Number[]> cells = new ArrayList<>();
        for (int t = 0; t < k; t++) for (int p = 0; p < k; p++) cells.add(new Number[] {p, k - 1 - t, confusion[t][p]});
        List<String> rows = new ArrayList<>(labels);
        java.util.Collections.reverse(rows);
        HeatMapChart heat = new HeatMapChartBuilder().width(900).height(800).title("Test confusion matrix (row: true, column: predicted)")
                .xAxisTitle("predicted").yAxisTitle("true").build();
        heat.getStyler().setShowValue(true);
        heat.addSeries("count", labels, rows, cells);
        BitmapEncoder.saveBitmap(heat, run.resolve("confusion.png").toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /**
     * Time per op family over {@code wallSeconds} of training and evaluation, and the part no family accounts
     * for: autograd bookkeeping, allocation and the loop itself (the framework's overhead).
     */
    static void printProfile(PrintWriter out, Map<Profiler.Family, Profiler.Totals> profile, double wallSeconds) {
        double total = wallSeconds;
        double counted = 0;
        out.println("profile (training and evaluation, time per op family):");
        for (Map.Entry<Profiler.Family, Profiler.Totals> e : profile.entrySet()) {
            Profiler.Totals t = e.getValue();
            if (t.calls() == 0) continue;
            counted += t.seconds();
            out.printf(Locale.ROOT, "  %-15s %9.2f s %10d calls %8.1f us/call%n", e.getKey().lower(), t.seconds(), t.calls(),
                    t.seconds() * 1e6 / t.calls());
        }
        out.printf(Locale.ROOT, "  %-15s %9.2f s of %.2f s wall; outside every op family (framework overhead): %.1f%%%n", "sum", counted,
                total, total > 0 ? Math.max(0, 100 * (total - counted) / total) : 0);
    }

    private static void write(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
