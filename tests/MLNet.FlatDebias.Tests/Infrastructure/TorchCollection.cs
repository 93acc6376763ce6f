using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Infrastructure;

/// <summary>Tests that touch libtorch run one at a time in this collection (xunit.runner.json also turns parallelism off).</summary>
[CollectionDefinition(Name)]
public sealed class TorchCollection : ICollectionFixture<TorchFixture>
{
    public const string Name = "Torch";
}

/// <summary>Loads TorchSharp once for the collection.</summary>
public sealed class TorchFixture
{
    public TorchFixture() => TorchRuntime.EnsureLoaded();
}
