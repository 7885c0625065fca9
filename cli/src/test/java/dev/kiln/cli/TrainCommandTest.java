package dev.kiln.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code kiln train} end to end on a small synthetic IDX data set: outputs, last line, errors. */
class TrainCommandTest {
    @TempDir Path dir;

    private void writeSet(String prefix, int n, long seed) throws IOException { SyntheticIdx.writeSet(dir, prefix, n, seed); }

    @Test void trainsWritesTheRunFolderAndEndsWithTheAccuracyLine() throws IOException {
        writeSet("train", 640, 1);
        writeSet("t10k", 200, 2);
        Path run = dir.resolve("run"), json = dir.resolve("summary.json");
        CliRun r = CliRun.of("train", "--model", "mlp", "--epochs", "2", "--data", dir.toString(), "--out", run.toString(),
                "--json", json.toString(), "--optimizer", "adam", "--profile");
        assertEquals(0, r.exitCode(), r.both());
        String[] lines = r.lines();
        assertTrue(lines[lines.length - 1].matches("test accuracy 0\\.\\d{4}|test accuracy 1\\.0000"), r.both());
        double accuracy = Double.parseDouble(lines[lines.length - 1].substring("test accuracy ".length()));
        assertTrue(accuracy > 0.8, "the banded classes are easy: " + accuracy);
        assertTrue(r.out().contains("profile") && r.out().contains("gemm"), r.both());
        for (String f : new String[] {"metrics.json", "metrics.csv", "loss.png", "accuracy.png", "confusion.png",
                "epoch-1.safetensors", "epoch-2.safetensors"})
            assertTrue(Files.size(run.resolve(f)) > 0, f);
        assertEquals(3, Files.readAllLines(run.resolve("metrics.csv")).size(), "header and two epochs");
        String summary = Files.readString(json);
        for (String key : new String[] {"\"backend\":", "\"model\":\"mlp\"", "\"epochs\":[{\"epoch\":1,\"train_loss\":",
                "\"test_accuracy\":", "\"train_seconds\":", "\"samples_per_second\":"})
            assertTrue(summary.contains(key), key + " in " + summary);

        // Resuming the epoch-1 checkpoint for one more epoch reproduces epoch 2 of the uninterrupted run.
        Path resumed = dir.resolve("resumed");
        CliRun again = CliRun.of("train", "--data", dir.toString(), "--out", resumed.toString(), "--epochs", "2",
                "--resume", run.resolve("epoch-1.safetensors").toString());
        assertEquals(0, again.exitCode(), again.both());
        assertEquals(lines[lines.length - 1], again.lines()[again.lines().length - 1], again.both());
    }

    @Test void missingDataAndBadOptionsAreClear() {
        CliRun r = CliRun.of("train", "--data", dir.resolve("absent").toString());
        assertEquals(1, r.exitCode(), r.both());
        assertTrue(r.err().contains("absent") && r.err().contains("cannot read the data set"), r.both());
        CliRun bad = CliRun.of("train", "--model", "resnet", "--data", dir.toString());
        assertEquals(2, bad.exitCode(), bad.both());
        assertTrue(bad.err().contains("--model must be one of"), bad.both());
        CliRun schedule = CliRun.of("train", "--schedule", "linear", "--data", dir.toString());
        assertEquals(2, schedule.exitCode(), schedule.both());
        assertTrue(schedule.err().contains("--schedule must be one of [constant, step, cosine], got linear"), schedule.both());
    }
}
