using MLNet.FlatDebias.Tests.Infrastructure;
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
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, true)) constraint.Save(writer);
        stream.Position = 0;
        var loaded = TraceConstraint.Load(new BinaryReader(stream));
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

    private sealed class FloatComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
