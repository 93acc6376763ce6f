using MLNet.FlatDebias.Examples.Waterbirds;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The fine-tuning study's trace statistics against hand computations.</summary>
public sealed class PaperTraceStatisticsTests
{
    [Fact]
    public void Statistics_split_minority_from_majority_and_count_the_high_trace_rows()
    {
        // Ten rows with traces 1..10; rows 9 and 10 (and 2) are minority. The 0.8 quantile by linear interpolation is
        // 1 + 0.8 * 9 = 8.2, so rows 9 and 10 are high-trace: both minority.
        double[] traces = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        bool[] majority = [true, false, true, true, true, true, true, true, false, false];
        var s = PaperTraceStatistics.Of("m", traces, majority, 0.8);

        Assert.Equal((7, 3), (s.MajorityRows, s.MinorityRows));
        Assert.Equal(5, s.MajorityMedian); // 1, 3, 4, 5, 6, 7, 8
        Assert.Equal(9, s.MinorityMedian); // 2, 9, 10
        Assert.Equal(34 / 7.0, s.MajorityMean, 1e-12); // exact sums of small integers: only the division rounds
        Assert.Equal(7, s.MinorityMean);
        Assert.Equal(2 / 3.0, s.MinorityRecall, 1e-12);
        Assert.Equal(1, s.MinorityPrecision);
        Assert.Equal(9 / 5.0, s.MedianRatio, 1e-12);
    }

    [Fact]
    public void Rows_without_a_trace_are_left_out()
    {
        double[] traces = [double.NaN, 4, 2, double.NaN];
        bool[] majority = [true, true, false, false];
        var s = PaperTraceStatistics.Of("m", traces, majority, 0.5);

        Assert.Equal((1, 1), (s.MajorityRows, s.MinorityRows));
        Assert.Equal(0, s.MinorityRecall); // the 0.5 quantile of {2, 4} is 3: only the majority row is above
        Assert.Equal(0, s.MinorityPrecision);
        Assert.Throws<ArgumentException>(() => PaperTraceStatistics.Of("m", traces, [true], 0.5));
    }
}
