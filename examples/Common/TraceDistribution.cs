using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples;

/// <summary>Per-sample Fisher traces of a trained network over a set of images (<see cref="FisherTrace.Compute"/>).</summary>
public static class TraceDistribution
{
    /// <summary>Rows per trace batch.</summary>
    private const int BatchSize = 256;

    /// <summary>The trace of every row of <paramref name="images"/>, in row order.</summary>
    /// <param name="network">The network (a fitted model's <c>Network</c>, on the CPU).</param>
    /// <param name="images">The rows; their size must be the network's input size.</param>
    /// <param name="scope">Head or full network.</param>
    /// <param name="estimator">The label expectation (the empirical one uses the rows' labels).</param>
    /// <param name="device">Where to compute; null for the CPU. The network is moved there and back to the CPU.</param>
    /// <returns>One trace per row.</returns>
    public static double[] Compute(ClassifierNetwork network, LabelledImages images, TraceScope scope, TraceEstimator estimator, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(images);
        var shape = network.InputShape;
        if (shape.Size != images.RowSize)
            throw new ArgumentException($"The images have {images.RowSize} values per row; the network takes {shape} ({shape.Size}).", nameof(images));
        var traces = new double[images.Count];
        device ??= CPU;
        network.to(device);
        try
        {
            Fill(network, images, scope, estimator, device, traces);
        }
        finally
        {
            network.to(CPU);
        }
        return traces;
    }

    private static void Fill(ClassifierNetwork network, LabelledImages images, TraceScope scope, TraceEstimator estimator, Device device, double[] traces)
    {
        var shape = network.InputShape;
        for (int start = 0; start < images.Count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, images.Count - start);
            using var scopeGuard = NewDisposeScope();
            var inputs = tensor(images.Features.AsSpan(start * images.RowSize, n * images.RowSize).ToArray(), [n, shape.Channels, shape.Height, shape.Width], device: device);
            var labels = tensor(images.Labels.AsSpan(start, n).ToArray().Select(l => (long)l).ToArray(), device: device);
            var values = FisherTrace.Compute(network, inputs, scope, estimator, labels).detach().cpu().to(ScalarType.Float64).data<double>().ToArray();
            values.CopyTo(traces, start);
        }
    }
}
