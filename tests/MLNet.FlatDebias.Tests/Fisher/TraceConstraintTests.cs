using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Fisher;

[Collection(TorchCollection.Name)]
public sealed class TraceConstraintTests
{
    [Fact]
    public void Duals_grow_above_the_bound_and_are_clipped_at_zero_and_at_the_cap()
    {
        var constraint = new TraceConstraint(4, dualLearningRate: 0.5, maxDual: 1.0);
        using var rows = tensor(new long[] { 0, 1, 2, 3 });
        constraint.Update(rows, tensor(new[] { 5f, 5f, 5f, 5f }));
        Assert.All(constraint.Duals, d => Assert.Equal(0f, d)); // no bound yet: nothing moves

        constraint.SetBound(1.0);
        constraint.Update(rows, tensor(new[] { 1.4f, 0.2f, 1.0f, 9f }));
        Assert.Equal(new[] { 0.2f, 0f, 0f, 1f }, constraint.Duals.ToArray(), new FloatComparer(1e-6f));
        constraint.Update(rows, tensor(new[] { 0.8f, 0.2f, 3f, 9f }));
        Assert.Equal(new[] { 0.1f, 0f, 1f, 1f }, constraint.Duals.ToArray(), new FloatComparer(1e-6f));
        Assert.Equal(3, constraint.ActiveCount);
    }

    [Fact]
    public void A_rows_dual_follows_the_row_across_shuffled_epochs()
    {
        var constraint = new TraceConstraint(6, 0.1, 10);
        constraint.SetBound(1);
        var traceOfRow = new float[] { 3, 0, 2, 0, 0, 5 };
        var random = new Random(7);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var order = Enumerable.Range(0, 6).OrderBy(_ => random.Next()).Select(i => (long)i).ToArray();
            for (int start = 0; start < 6; start += 2)
            {
                var batch = order.Skip(start).Take(2).ToArray();
                constraint.Update(tensor(batch), tensor(batch.Select(r => traceOfRow[r]).ToArray()));
            }
        }
        for (int row = 0; row < 6; row++)
            Assert.Equal(Math.Max(0, 3 * 0.1f * (traceOfRow[row] - 1)), constraint.Duals[row], 1e-6); // three float32 dual steps, duals up to 1.2: a few float32 ulps
        using var multipliers = constraint.Multipliers(tensor(new long[] { 5, 0 }), ScalarType.Float32, CPU);
        Assert.Equal(new[] { 1.2f, 0.6f }, multipliers.data<float>().ToArray(), new FloatComparer(1e-5f));
    }

    [Fact]
    public void Top_k_constrains_only_the_largest_traces_of_the_batch()
    {
        var constraint = new TraceConstraint(5, 1, 10, topK: 2);
        constraint.SetBound(0);
        using var rows = tensor(new long[] { 0, 1, 2, 3, 4 });
        using var traces = tensor(new[] { 1f, 4f, 2f, 3f, 0.5f });
        using var mask = constraint.Constrained(traces);
        Assert.Equal(new[] { false, true, false, true, false }, mask.data<bool>().ToArray());
        constraint.Update(rows, traces, mask);
        Assert.Equal(new[] { 0f, 4f, 0f, 3f, 0f }, constraint.Duals.ToArray());
    }

    [Fact]
    public void Quantile_bound_comes_from_the_recorded_traces()
    {
        var constraint = new TraceConstraint(5, 1, 10);
        Assert.Throws<InvalidOperationException>(() => constraint.CalibrateBound(0.5));
        constraint.Record(tensor(new long[] { 4, 0, 2 }), tensor(new[] { 10f, 0f, 4f }));
        constraint.Record(tensor(new long[] { 1, 3, 2 }), tensor(new[] { 2f, 6f, 8f })); // row 2 recorded again: the latest counts
        // values 0, 2, 6, 8, 10: the 0.75 quantile is 8, the 0.9 quantile 8 + 0.6 * 2.
        Assert.Equal(8, constraint.CalibrateBound(0.75), 1e-12); // exact order statistic, double arithmetic
        Assert.Equal(9.2, constraint.CalibrateBound(0.9), 1e-12); // 8 + 0.6 * 2 in double: a few ulps
        Assert.Equal(9.2, constraint.Bound!.Value, 1e-12);
    }

    [Fact]
    public void State_round_trips_through_save_and_load()
    {
        var constraint = new TraceConstraint(3, 0.25, 2, topK: 1);
        constraint.Record(tensor(new long[] { 0, 1, 2 }), tensor(new[] { 1f, 2f, 3f }));
        constraint.CalibrateBound(0.5);
        constraint.Update(tensor(new long[] { 2 }), tensor(new[] { 7f }));
        var loaded = SavedAndLoaded(constraint);
        Assert.Equal(constraint.Duals, loaded.Duals);
        Assert.Equal(constraint.RecordedTraces, loaded.RecordedTraces);
        Assert.Equal(constraint.Bound, loaded.Bound);
        Assert.Equal(constraint.TopK, loaded.TopK);
        Assert.Equal(constraint.DualLearningRate, loaded.DualLearningRate);
        Assert.Throws<InvalidDataException>(() => TraceConstraint.Load(new BinaryReader(new MemoryStream(new byte[] { 9, 0, 0, 0 }))));
    }

    [Fact]
    public void Bad_settings_name_the_setting()
    {
        Assert.Equal("dualLearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new TraceConstraint(3, 0, 1)).ParamName);
        Assert.Equal("maxDual", Assert.Throws<ArgumentOutOfRangeException>(() => new TraceConstraint(3, 1, -1)).ParamName);
        Assert.Equal("topK", Assert.Throws<ArgumentOutOfRangeException>(() => new TraceConstraint(3, 1, 1, 0)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new TraceConstraint(3, 1, 1).SetBound(-1)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TraceConstraint(3, 1, 1).Update(tensor(new long[] { 3 }), tensor(new[] { 1f })));
    }

    [Fact]
    public void Relative_to_the_bound_the_dual_step_divides_the_violation_by_the_bound()
    {
        var constraint = new TraceConstraint(3, dualLearningRate: 0.5, maxDual: 10, scale: ViolationScale.RelativeToBound);
        constraint.SetBound(4);
        constraint.Update(tensor(new long[] { 0, 1, 2 }), tensor(new[] { 12f, 2f, 4f }));
        // 0.5 * (12/4 - 1) = 1; 0.5 * (2/4 - 1) < 0 clips to 0; at the bound, no change. Exact in float32.
        Assert.Equal(new[] { 1f, 0f, 0f }, constraint.Duals.ToArray());
        Assert.Equal(0.25, constraint.TracePenaltyFactor);
        Assert.Equal(1, new TraceConstraint(3, 0.5, 10).TracePenaltyFactor);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => constraint.SetBound(0)).ParamName);
    }

    /// <summary>Multiplying every row's features by c multiplies its last-layer trace <c>||e||^2 (||h||^2 + 1)</c> by about c^2;
    /// with a quantile bound the bound scales too. Relative to the bound (or to the mean excess), the multipliers after the same dual steps are the
    /// same for every c; in trace units they are not (the test fails with <see cref="ViolationScale.Absolute"/>).</summary>
    [Theory]
    [InlineData(ViolationScale.RelativeToBound, true)]
    [InlineData(ViolationScale.RelativeToMeanExcess, true)]
    [InlineData(ViolationScale.Absolute, false)]
    public void Multipliers_are_unchanged_by_the_features_scale_only_in_a_relative_unit(ViolationScale scale, bool invariant)
    {
        float[] Duals(double c)
        {
            // A linear head W h + b on features c h with weights W / c: the same logits, so the same probabilities and errors,
            // and traces ||e||^2 (c^2 ||h||^2 + 1). Features with ||h||^2 in the hundreds, as pretrained features have.
            using var scope = NewDisposeScope();
            var generator = new Generator(11);
            var h = randn(64, 200, generator: generator, dtype: ScalarType.Float64);
            var w = randn(3, 200, generator: generator, dtype: ScalarType.Float64) * 0.05;
            var b = randn(3, generator: generator, dtype: ScalarType.Float64);
            var labels = randint(3, 64, generator: generator);
            var logits = (h * c).matmul((w / c).t()) + b;
            var traces = FisherTrace.Head(h * c, logits, TraceEstimator.Empirical, labels);
            return CalibratedDualSteps(new TraceConstraint(64, dualLearningRate: 0.08, maxDual: 84, topK: 16, scale: scale), traces, epochs: 5, batchSize: 32);
        }
        var reference = Duals(1);
        Assert.Contains(reference, d => d > 0);
        foreach (double c in new[] { 3.0, 30.0 })
        {
            var scaled = Duals(c);
            // The bias's "+ 1" keeps the traces from scaling exactly: with ||h||^2 about 200, T(c) / T(1) differs from c^2 by
            // under 0.6 % for c >= 1, which moves each violation T / epsilon - 1 by under 0.6 % of T / epsilon (more than 0.6 %
            // of a small violation). So the tolerance is 2 % of the largest multiplier, for every row: it holds the invariance,
            // while a trace-unit step (which multiplies the duals by c^2 = 9 or 900, or caps them) breaks it.
            float largest = reference.Max();
            bool same = reference.Zip(scaled).All(p => Math.Abs(p.First - p.Second) <= 0.02 * largest);
            Assert.True(same == invariant, $"c = {c}: duals {(same ? "equal" : "differ")} (first rows {string.Join(", ", reference.Take(6))} against {string.Join(", ", scaled.Take(6))}).");
        }
    }

    [Fact]
    public void Relative_to_the_mean_excess_the_violation_is_divided_by_the_calibration_traces_mean_excess()
    {
        var constraint = new TraceConstraint(7, dualLearningRate: 3, maxDual: 10, scale: ViolationScale.RelativeToMeanExcess);
        constraint.Record(tensor(new long[] { 0, 1, 2, 3, 4 }), tensor(new[] { 3f, 1f, 5f, 2f, 4f }));
        Assert.Equal(3.0, constraint.CalibrateBound(0.5));
        Assert.Equal(1.5, constraint.MeanExcess); // (4 - 3 + 5 - 3) / 2
        Assert.Equal(1 / 1.5, constraint.TracePenaltyFactor);
        constraint.Update(tensor(new long[] { 0, 1, 2, 3, 4, 5, 6 }), tensor(new[] { 3f, 1f, 5f, 2f, 4f, 4.5f, 900f }));
        // 3 (T - 3) / 1.5: the bound's row 0, rows below it clip to 0, 4 -> 2, 5 -> 4, 4.5 -> 3, 900 -> the cap 10. Tolerance:
        // float32 rounding of the double quotient (1e-6 relative), far below the 0.5 steps between the expected values.
        Assert.Equal(new[] { 0f, 0f, 4f, 0f, 2f, 3f, 10f }, constraint.Duals.ToArray(), new FloatComparer(1e-5f));
    }

    /// <summary>Relative to the mean excess, an affine change of every trace (<c>20 T + 0.3</c>: a seed whose traces sit twenty
    /// times higher, plus a shift) leaves the multipliers as they were, to float rounding; relative to the bound the shift
    /// changes them, and in trace units the factor does (both fail the test).</summary>
    [Theory]
    [InlineData(ViolationScale.RelativeToMeanExcess, true)]
    [InlineData(ViolationScale.RelativeToBound, false)]
    [InlineData(ViolationScale.Absolute, false)]
    public void Relative_to_the_mean_excess_the_multipliers_ignore_an_affine_change_of_the_traces(ViolationScale scale, bool invariant)
    {
        float[] Duals(double factor, double shift)
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(5);
            var traces = rand(200, generator: generator, dtype: ScalarType.Float64).pow(4) * 3 * factor + shift;
            return CalibratedDualSteps(new TraceConstraint(200, dualLearningRate: 0.5, maxDual: 84, topK: 8, scale: scale), traces, epochs: 3, batchSize: 40);
        }
        var plain = Duals(1, 0);
        var changed = Duals(20, 0.3);
        Assert.Contains(plain, d => d > 0);
        Assert.DoesNotContain(plain, d => d >= 84); // no row at the cap, where any unit would agree
        // Tolerance: the traces are float32 in the constraint, so a violation carries a relative rounding error near 1e-7 per
        // operation; 1e-4 of the largest multiplier holds that, while the trace-unit step differs by a factor of 20 and the
        // shifted bound moves every relative violation by far more.
        float largest = plain.Max();
        bool same = plain.Zip(changed).All(p => Math.Abs(p.First - p.Second) <= 1e-4 * largest);
        Assert.True(same == invariant, $"duals {(same ? "equal" : "differ")}: {string.Join(", ", plain.Where(d => d > 0).Take(5))} against {string.Join(", ", changed.Where(d => d > 0).Take(5))}");
    }

    [Fact]
    public void Relative_to_the_mean_excess_the_bound_must_come_from_a_quantile_with_traces_above_and_survives_a_checkpoint()
    {
        var constraint = new TraceConstraint(3, 1, 5, scale: ViolationScale.RelativeToMeanExcess);
        Assert.Contains("TraceBoundQuantile", Assert.Throws<InvalidOperationException>(() => constraint.SetBound(1)).Message);
        var rows = tensor(new long[] { 0, 1, 2 });
        constraint.Record(rows, tensor(new[] { 1f, 2f, 3f }));
        Assert.Contains("lower TraceBoundQuantile", Assert.Throws<InvalidOperationException>(() => constraint.CalibrateBound(1)).Message);

        constraint.CalibrateBound(0.25);
        constraint.Update(rows, tensor(new[] { 1f, 2f, 3f }));
        var loaded = SavedAndLoaded(constraint);
        Assert.Equal(ViolationScale.RelativeToMeanExcess, loaded.Scale);
        Assert.Equal(constraint.MeanExcess, loaded.MeanExcess);
        Assert.Equal(constraint.Bound, loaded.Bound);
        Assert.Equal(constraint.Duals.ToArray(), loaded.Duals.ToArray());
    }

    [Fact]
    public void The_violation_scale_round_trips_and_the_first_format_reads_as_trace_units()
    {
        var constraint = new TraceConstraint(2, 0.5, 3, scale: ViolationScale.RelativeToBound);
        constraint.SetBound(2);
        Assert.Equal(ViolationScale.RelativeToBound, SavedAndLoaded(constraint).Scale);

        // Format 1 (before the scale existed): version, rows, eta, cap, top-k, has bound, bound, duals, recorded.
        var old = new MemoryStream();
        using (var writer = new BinaryWriter(old, System.Text.Encoding.UTF8, true))
        {
            writer.Write(1); writer.Write(2); writer.Write(0.5); writer.Write(3.0); writer.Write(0);
            writer.Write(true); writer.Write(2.0);
            writer.Write(1.5f); writer.Write(0f); writer.Write(float.NaN); writer.Write(float.NaN);
        }
        old.Position = 0;
        var loaded = TraceConstraint.Load(new BinaryReader(old));
        Assert.Equal(ViolationScale.Absolute, loaded.Scale);
        Assert.Equal(new[] { 1.5f, 0f }, loaded.Duals.ToArray());
        Assert.Equal(2.0, loaded.Bound);
    }

    /// <summary>The constraint written by <see cref="TraceConstraint.Save"/> and read back by <see cref="TraceConstraint.Load"/>.</summary>
    private static TraceConstraint SavedAndLoaded(TraceConstraint constraint)
    {
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, true)) constraint.Save(writer);
        stream.Position = 0;
        return TraceConstraint.Load(new BinaryReader(stream));
    }

    /// <summary>Records every row's trace, calibrates the bound at the 0.83 quantile, then runs the dual step over the rows in
    /// batches, epoch after epoch (top-k as the constraint sets it); returns the multipliers.</summary>
    private static float[] CalibratedDualSteps(TraceConstraint constraint, Tensor traces, int epochs, int batchSize)
    {
        var rows = arange(traces.shape[0], dtype: ScalarType.Int64);
        constraint.Record(rows, traces);
        constraint.CalibrateBound(0.83);
        for (int epoch = 0; epoch < epochs; epoch++)
            for (long start = 0; start < traces.shape[0]; start += batchSize)
            {
                var batchRows = rows[TensorIndex.Slice(start, start + batchSize)];
                var batchTraces = traces[TensorIndex.Slice(start, start + batchSize)];
                constraint.Update(batchRows, batchTraces, constraint.Constrained(batchTraces));
            }
        return constraint.Duals.ToArray();
    }

    private sealed class FloatComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
