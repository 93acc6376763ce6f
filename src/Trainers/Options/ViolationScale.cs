namespace MLNet.FlatDebias.Trainers;

/// <summary>The unit of the constraint's violation <c>Tr F_i - epsilon</c>, which the dual step
/// (<see cref="FlatDebiasTrainer.Options.DualLearningRate"/>) multiplies.</summary>
/// <remarks>A Fisher trace scales with the network's features: the last layer's empirical trace is
/// <c>||e_y - p||^2 (||h||^2 + 1)</c>, so the same model on features ten times larger has traces about a hundred times
/// larger. In trace units, one dual step is a different amount of weight on every network (a linear head on ResNet
/// features reaches the cap at its first update, a small network's multipliers barely move); relative to the bound,
/// one value means the same on any network and feature scale (<c>docs/method-study.md</c>, "Scale").</remarks>
public enum ViolationScale
{
    /// <summary>In trace units: <c>lambda_i &lt;- clip(lambda_i + eta (T_i - epsilon), 0, lambda_max)</c>, and a trace penalty
    /// <c>lambda_i T_i</c> (the paper's form; the library's setting until 2026-12-05).</summary>
    Absolute,

    /// <summary>Relative to the bound: the constraint is written <c>T_i / epsilon - 1 &lt;= 0</c>, so
    /// <c>lambda_i &lt;- clip(lambda_i + eta (T_i / epsilon - 1), 0, lambda_max)</c> and a trace penalty is
    /// <c>lambda_i T_i / epsilon</c>. Multiplying every trace by a constant (and the bound with it, as a quantile bound
    /// does) changes nothing. Needs epsilon &gt; 0.</summary>
    RelativeToBound,

    /// <summary>Relative to the mean excess: <c>v_i = (T_i - epsilon) / m</c>, where <c>m</c> is the mean of <c>T_j - epsilon</c>
    /// over the calibration traces above the bound, so <see cref="FlatDebiasTrainer.Options.DualLearningRate"/> is the multiplier
    /// a row of average excess gains per update, and rows keep their traces' ratios (a row twice as far above the bound gains
    /// twice as much). Multiplying every trace by a constant changes nothing, nor does a seed whose traces all sit twenty
    /// times higher. Needs a quantile bound (<see cref="FlatDebiasTrainer.Options.TraceBound"/> null) with some calibration
    /// traces above it; a trace penalty is <c>lambda_i T_i / m</c>.</summary>
    RelativeToMeanExcess,
}
