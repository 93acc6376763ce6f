using MLNet.FlatDebias.Common;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// The Lagrangian's multipliers for <c>Tr F_i(theta) &lt;= epsilon</c>, one per training row
/// (<c>METHOD.md</c> section 3): <c>lambda_i &lt;- clip(lambda_i + eta v_i, 0, lambda_max)</c> for the
/// rows of each batch, with the violation <c>v_i = T_i - epsilon</c> (<see cref="ViolationScale.Absolute"/>),
/// <c>T_i / epsilon - 1</c> (<see cref="ViolationScale.RelativeToBound"/>) or <c>(T_i - epsilon) / m</c> with <c>m</c> the
/// calibration traces' mean excess over the bound (<see cref="ViolationScale.RelativeToMeanExcess"/>), and <c>T_i</c> detached from the same forward
/// pass (or a frozen reference model's). Rows are identified by stable indices <c>0..RowCount-1</c> that follow the row across shuffled epochs.
/// </summary>
/// <remarks>
/// The bound is absolute (<see cref="SetBound"/>) or a quantile of traces recorded over an epoch
/// (<see cref="Record"/>, then <see cref="CalibrateBound"/>). With <see cref="TopK"/> set, only the k largest
/// traces of each batch are constrained: the other rows of the batch are neither penalised nor updated.
/// The state (duals, bound, recorded traces) is saved with <see cref="Save"/> for training checkpoints.
/// </remarks>
public sealed class TraceConstraint
{
    private const int FormatVersion = 3;
    private readonly float[] duals;
    private readonly float[] recorded;

    /// <summary>Creates the multipliers, all zero, with no bound yet.</summary>
    /// <param name="rowCount">Number of training rows (at least 1).</param>
    /// <param name="dualLearningRate">Dual step size <c>eta</c> (&gt; 0).</param>
    /// <param name="maxDual">Cap <c>lambda_max</c> (&gt; 0).</param>
    /// <param name="topK">Constrain only the k largest traces of each batch (null: every row).</param>
    /// <param name="scale">The violation's unit (default <see cref="ViolationScale.Absolute"/>: trace units).</param>
    public TraceConstraint(int rowCount, double dualLearningRate, double maxDual, int? topK = null, ViolationScale scale = ViolationScale.Absolute)
    {
        if (!Enum.IsDefined(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "Unknown violation scale.");
        if (rowCount < 1) throw new ArgumentOutOfRangeException(nameof(rowCount), rowCount, "At least one row is needed.");
        if (!(dualLearningRate > 0) || double.IsInfinity(dualLearningRate))
            throw new ArgumentOutOfRangeException(nameof(dualLearningRate), dualLearningRate, "DualLearningRate must be > 0 and finite.");
        if (!(maxDual > 0) || double.IsInfinity(maxDual))
            throw new ArgumentOutOfRangeException(nameof(maxDual), maxDual, "MaxDual must be > 0 and finite.");
        if (topK is < 1) throw new ArgumentOutOfRangeException(nameof(topK), topK, "TopK must be at least 1 when set.");
        duals = new float[rowCount];
        recorded = new float[rowCount];
        Array.Fill(recorded, float.NaN);
        DualLearningRate = dualLearningRate;
        MaxDual = maxDual;
        TopK = topK;
        Scale = scale;
    }

    /// <summary>Number of rows (and multipliers).</summary>
    public int RowCount => duals.Length;

    /// <summary>Dual step size.</summary>
    public double DualLearningRate { get; }

    /// <summary>Cap on every multiplier.</summary>
    public double MaxDual { get; }

    /// <summary>When set, only the k largest traces of each batch are constrained.</summary>
    public int? TopK { get; }

    /// <summary>The violation's unit.</summary>
    public ViolationScale Scale { get; }

    /// <summary>What a trace penalty's multiplier is multiplied by: 1 in trace units, <c>1 / epsilon</c> relative to the bound
    /// (the penalty of <c>T_i / epsilon - 1 &lt;= 0</c>); 1 before a bound is set.</summary>
    public double TracePenaltyFactor => Scale switch
    {
        ViolationScale.RelativeToBound when Bound is double epsilon => 1 / epsilon,
        ViolationScale.RelativeToMeanExcess when MeanExcess is double excess => 1 / excess,
        _ => 1,
    };

    /// <summary>The mean of <c>T - epsilon</c> over the calibration traces above the bound (<see cref="CalibrateBound"/>); null
    /// for an absolute bound.</summary>
    public double? MeanExcess { get; private set; }

    /// <summary>The bound <c>epsilon</c>; null until set or calibrated (no row is constrained before).</summary>
    public double? Bound { get; private set; }

    /// <summary>The multipliers, indexed by row.</summary>
    public IReadOnlyList<float> Duals => duals;

    /// <summary>Number of rows whose multiplier is positive (active constraints).</summary>
    public int ActiveCount => duals.Count(d => d > 0);

    /// <summary>Sets an absolute bound (and forgets a calibrated mean excess).</summary>
    /// <param name="epsilon">The bound (&gt;= 0, finite; &gt; 0 relative to the bound).</param>
    /// <exception cref="InvalidOperationException">The unit is <see cref="ViolationScale.RelativeToMeanExcess"/>, which needs a
    /// calibrated bound.</exception>
    public void SetBound(double epsilon)
    {
        if (Scale == ViolationScale.RelativeToMeanExcess)
            throw new InvalidOperationException(
                "A violation relative to the mean excess (ViolationScale.RelativeToMeanExcess) is measured on the traces a quantile bound is " +
                "calibrated on: leave TraceBound unset and use TraceBoundQuantile, or use ViolationScale.Absolute or RelativeToBound with an absolute bound.");
        MeanExcess = null;
        SetBoundValue(epsilon);
    }

    private void SetBoundValue(double epsilon)
    {
        if (!(epsilon >= 0) || double.IsInfinity(epsilon))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "The trace bound must be >= 0 and finite.");
        if (Scale == ViolationScale.RelativeToBound && !(epsilon > 0))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon,
                "The trace bound is 0, so a violation relative to it is undefined (ViolationScale.RelativeToBound): set TraceBound > 0, " +
                "raise TraceBoundQuantile (the traces it picked are 0: rows the warm-up model fits exactly), or use ViolationScale.Absolute.");
        Bound = epsilon;
    }

    /// <summary>Records detached traces of the given rows, for <see cref="CalibrateBound"/> (the latest value per row is kept).</summary>
    /// <param name="rows">Row indices <c>[B]</c> (int64).</param>
    /// <param name="traces">Traces <c>[B]</c>.</param>
    public void Record(Tensor rows, Tensor traces)
    {
        var (r, t) = ToArrays(rows, traces);
        for (int i = 0; i < r.Length; i++) recorded[r[i]] = t[i];
    }

    /// <summary>Sets the bound to a quantile of the recorded traces (linear interpolation between order statistics).</summary>
    /// <param name="quantile">In [0, 1], e.g. 0.9: the 10 % largest recorded traces start above the bound.</param>
    /// <returns>The bound.</returns>
    /// <exception cref="InvalidOperationException">No trace was recorded.</exception>
    public double CalibrateBound(double quantile)
    {
        if (!(quantile >= 0 && quantile <= 1)) throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "The quantile must be in [0, 1].");
        var values = recorded.Where(v => !float.IsNaN(v)).Select(v => (double)v).ToArray();
        if (values.Length == 0) throw new InvalidOperationException("No traces were recorded, so the bound cannot be set from a quantile.");
        Array.Sort(values);
        double position = quantile * (values.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, values.Length - 1);
        double bound = values[lower] + (position - lower) * (values[upper] - values[lower]);
        var above = values.Where(v => v > bound).ToArray();
        if (Scale == ViolationScale.RelativeToMeanExcess && above.Length == 0)
            throw new InvalidOperationException(
                $"No recorded trace is above the bound {bound:G4} (the {quantile:G4} quantile of {values.Length} traces), so their mean excess, " +
                "the unit of ViolationScale.RelativeToMeanExcess, is undefined: lower TraceBoundQuantile.");
        SetBoundValue(bound);
        MeanExcess = above.Length > 0 ? above.Average(v => v - bound) : null;
        return bound;
    }

    /// <summary>The recorded traces by row (NaN for rows not recorded).</summary>
    public IReadOnlyList<float> RecordedTraces => recorded;

    /// <summary>Which rows of a batch are constrained: all, or the <see cref="TopK"/> largest traces.</summary>
    /// <param name="traces">Detached traces of the batch <c>[B]</c>.</param>
    /// <returns>A boolean mask <c>[B]</c>.</returns>
    public Tensor Constrained(Tensor traces)
    {
        if (TopK is not int k || k >= traces.shape[0]) return ones_like(traces, dtype: ScalarType.Bool);
        using var scope = NewDisposeScope();
        var mask = zeros_like(traces, dtype: ScalarType.Bool);
        var (_, indices) = traces.detach().topk(k);
        mask.index_fill_(0, indices, HeldScalars.True); // a held scalar, not an implicit one (HeldScalars)
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>The current multipliers of a batch's rows, as a tensor on <paramref name="device"/>.</summary>
    /// <param name="rows">Row indices <c>[B]</c> (int64).</param>
    /// <param name="dtype">Element type of the result.</param>
    /// <param name="device">Device of the result.</param>
    /// <returns><c>lambda_rows</c>, <c>[B]</c>.</returns>
    public Tensor Multipliers(Tensor rows, ScalarType dtype, Device device)
    {
        var r = ToRowArray(rows);
        var values = new float[r.Length];
        for (int i = 0; i < r.Length; i++) values[i] = duals[r[i]];
        return tensor(values).to(dtype, device);
    }

    /// <summary>The dual step for a batch: <c>lambda_i &lt;- clip(lambda_i + eta v_i, 0, lambda_max)</c> with <c>v_i</c> the
    /// violation in <see cref="Scale"/>'s unit, for the rows where <paramref name="constrained"/> is true. Does nothing
    /// before a bound is set.</summary>
    /// <param name="rows">Row indices <c>[B]</c> (int64).</param>
    /// <param name="traces">Detached traces <c>[B]</c> from the same forward pass.</param>
    /// <param name="constrained">Mask from <see cref="Constrained"/>, or null for every row.</param>
    public void Update(Tensor rows, Tensor traces, Tensor? constrained = null)
    {
        var (r, t) = ToArrays(rows, traces);
        if (Bound is not double epsilon) return;
        bool[]? mask = constrained is null ? null : constrained.to(ScalarType.Bool).cpu().data<bool>().ToArray();
        for (int i = 0; i < r.Length; i++)
        {
            if (mask is not null && !mask[i]) continue;
            if (float.IsNaN(t[i])) throw new InvalidOperationException($"The trace of row {r[i]} is NaN.");
            double violation = Violation(t[i], epsilon);
            double updated = duals[r[i]] + DualLearningRate * violation;
            duals[r[i]] = (float)Math.Clamp(updated, 0, MaxDual);
        }
    }

    /// <summary>A trace's violation of the bound in <see cref="Scale"/>'s unit (positive above the bound).</summary>
    /// <param name="trace">The trace.</param>
    /// <param name="epsilon">The bound.</param>
    /// <returns>The violation.</returns>
    private double Violation(double trace, double epsilon) => Scale switch
    {
        ViolationScale.RelativeToBound => trace / epsilon - 1,
        ViolationScale.RelativeToMeanExcess => (trace - epsilon) / MeanExcess!.Value,
        _ => trace - epsilon,
    };

    /// <summary>Writes the state (settings, bound, multipliers, recorded traces, the calibrated mean excess).</summary>
    /// <param name="writer">The destination.</param>
    public void Save(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(FormatVersion);
        writer.Write(duals.Length);
        writer.Write(DualLearningRate);
        writer.Write(MaxDual);
        writer.Write(TopK ?? 0);
        writer.Write((int)Scale);
        writer.Write(Bound.HasValue);
        writer.Write(Bound ?? 0);
        foreach (var d in duals) writer.Write(d);
        foreach (var v in recorded) writer.Write(v);
        writer.Write(MeanExcess.HasValue);
        writer.Write(MeanExcess ?? 0);
    }

    /// <summary>Reads a state written by <see cref="Save"/> (or by the formats before <see cref="Scale"/>, read as
    /// <see cref="ViolationScale.Absolute"/>, and before <see cref="MeanExcess"/>).</summary>
    /// <param name="reader">The source.</param>
    /// <returns>The restored constraint.</returns>
    /// <exception cref="InvalidDataException">The data is not a saved constraint.</exception>
    public static TraceConstraint Load(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        int version = reader.ReadInt32();
        if (version is not (1 or 2 or FormatVersion)) throw new InvalidDataException($"Unknown trace-constraint format version {version}.");
        int rows = reader.ReadInt32();
        if (rows < 1) throw new InvalidDataException($"Invalid row count {rows} in a saved trace constraint.");
        double eta = reader.ReadDouble();
        double max = reader.ReadDouble();
        int topK = reader.ReadInt32();
        var scale = version == 1 ? ViolationScale.Absolute : (ViolationScale)reader.ReadInt32();
        if (!Enum.IsDefined(scale)) throw new InvalidDataException($"Unknown violation scale {(int)scale} in a saved trace constraint.");
        var result = new TraceConstraint(rows, eta, max, topK > 0 ? topK : null, scale);
        bool hasBound = reader.ReadBoolean();
        double bound = reader.ReadDouble();
        if (hasBound) result.SetBoundValue(bound);
        for (int i = 0; i < rows; i++) result.duals[i] = reader.ReadSingle();
        for (int i = 0; i < rows; i++) result.recorded[i] = reader.ReadSingle();
        if (version < 3) return result;
        if (reader.ReadBoolean()) result.MeanExcess = reader.ReadDouble(); else reader.ReadDouble();
        if (hasBound && scale == ViolationScale.RelativeToMeanExcess && result.MeanExcess is null)
            throw new InvalidDataException("A saved trace constraint relative to the mean excess has a bound but no mean excess.");
        return result;
    }

    private long[] ToRowArray(Tensor rows)
    {
        var r = rows.to(ScalarType.Int64).cpu().data<long>().ToArray();
        foreach (var row in r)
            if (row < 0 || row >= duals.Length) throw new ArgumentOutOfRangeException(nameof(rows), row, $"Row index outside 0..{duals.Length - 1}.");
        return r;
    }

    private (long[] Rows, float[] Traces) ToArrays(Tensor rows, Tensor traces)
    {
        var r = ToRowArray(rows);
        var t = traces.detach().to(ScalarType.Float32).cpu().data<float>().ToArray();
        if (r.Length != t.Length) throw new ArgumentException($"{r.Length} rows but {t.Length} traces.", nameof(traces));
        return (r, t);
    }
}
