using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>Accuracy, worst-group and worst-class accuracy of a network on a materialised data set.</summary>
internal sealed record ValidationScores(double Accuracy, double? WorstGroupAccuracy, double WorstClassAccuracy)
{
    public static ValidationScores Evaluate(ClassifierNetwork network, TensorDataset data, Device device, int batchSize)
    {
        var predictions = Predict(network, data, device, batchSize);
        var labels = data.Labels.Select(l => (int)l).ToArray();
        var groups = data.Groups ?? new int[data.Count];
        var names = data.GroupNames ?? ["all"];
        var summary = GroupAccuracySummary.Compute(labels, predictions, groups, names, data.ClassCount);
        return new ValidationScores(summary.AverageAccuracy, data.Groups is null ? null : summary.WorstGroupAccuracy, summary.WorstClassAccuracy);
    }

    /// <summary>Arg-max predictions in evaluation mode; the network's mode is restored.</summary>
    public static int[] Predict(ClassifierNetwork network, TensorDataset data, Device device, int batchSize)
    {
        bool training = network.training;
        network.eval();
        try
        {
            var result = new int[data.Count];
            using var noGrad = no_grad();
            for (int start = 0; start < data.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(batchSize, data.Count - start);
                var rows = Enumerable.Range(start, count).Select(i => (long)i).ToArray();
                var predicted = network.forward(data.FeatureBatch(rows, device)).argmax(1).cpu().data<long>().ToArray();
                for (int i = 0; i < count; i++) result[start + i] = (int)predicted[i];
            }
            return result;
        }
        finally
        {
            network.train(training);
        }
    }
}
