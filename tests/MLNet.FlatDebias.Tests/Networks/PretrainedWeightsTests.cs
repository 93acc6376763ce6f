using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Networks;

[Collection(TorchCollection.Name)]
public sealed class PretrainedWeightsTests
{
    [Theory]
    [InlineData(".pth")]
    [InlineData(".safetensors")]
    public void Torchvision_file_loads_backbone_by_name_and_keeps_a_head_of_another_size(string extension)
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(Path.GetTempPath(), $"flatdebias-resnet18-{Guid.NewGuid():N}{extension}");
        try
        {
            TorchRuntime.SetSeed(11);
            using var theirs = torchvision.models.resnet18(1000);
            if (extension == ".pth") theirs.save_py(path); else theirs.save_safetensors(path);

            TorchRuntime.SetSeed(12);
            using var ours = ResNet.ResNet18(2, new ImageShape(3, 64, 64));
            var headBefore = ours.Head.weight!.detach().clone();
            var loaded = PretrainedWeights.Load(ours, path);

            Assert.DoesNotContain("fc.weight", loaded);
            Assert.Contains("layer4.1.bn2.running_var", loaded);
            var theirState = theirs.state_dict();
            foreach (var (name, tensor) in ours.state_dict().Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)))
                Assert.True(tensor.Identical(theirState[name]), $"{name} was not loaded");
            Assert.True(ours.Head.weight!.Identical(headBefore), "the 2-class head should be left as initialised");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Mismatched_file_names_the_keys_that_do_not_fit()
    {
        var path = Path.Combine(Path.GetTempPath(), $"flatdebias-cnn-{Guid.NewGuid():N}.pth");
        try
        {
            using var cnn = new SmallCnn(2, new ImageShape(3, 32, 32), 8);
            cnn.save_py(path);
            using var resnet = ResNet.ResNet18(2, new ImageShape(3, 32, 32), 8);
            var e = Assert.Throws<InvalidDataException>(() => PretrainedWeights.Load(resnet, path));
            Assert.Contains(path, e.Message);
            Assert.Contains("missing in the file: layer1.0.conv1.weight", e.Message);
            Assert.Contains("not in the network: bn2.bias, bn2.num_batches_tracked", e.Message);
            Assert.Contains("shape mismatch: conv1.weight: file [8, 3, 3, 3], network [8, 3, 7, 7]", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Unreadable_or_missing_file_gives_a_clear_error()
    {
        using var net = new Mlp(2, new ImageShape(1, 4, 4), 8);
        Assert.Throws<FileNotFoundException>(() => PretrainedWeights.Load(net, "/nonexistent/weights.pth"));
        var path = Path.Combine(Path.GetTempPath(), $"flatdebias-garbage-{Guid.NewGuid():N}.pth");
        try
        {
            File.WriteAllText(path, "this is not a pickle");
            var e = Assert.Throws<InvalidDataException>(() => PretrainedWeights.Load(net, path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }
}
