// Smoke run of the foundation: builds a small CNN and trains it for a few steps on a synthetic two-class
// image set, printing the loss. The full Waterbirds experiment replaces this program in a later issue.
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

TorchRuntime.SetSeed(0);
var shape = new ImageShape(3, 32, 32);
using var net = new SmallCnn(2, shape, width: 16);
using var optimizer = optim.Adam(net.parameters(), 1e-3);
using var x = randn(256, 3, 32, 32);
using var y = randint(0, 2, [256], dtype: ScalarType.Int64);
using (no_grad()) x.index_put_(x.index(TensorIndex.Tensor(y.eq(1))) + 0.5, TensorIndex.Tensor(y.eq(1)));

Console.WriteLine($"Smoke run: SmallCnn {shape} on 256 synthetic images, device {TorchRuntime.ResolveDevice(TrainingDevice.Auto)}");
for (int step = 0; step <= 30; step++)
{
    using var scope = NewDisposeScope();
    optimizer.zero_grad();
    var loss = nn.functional.cross_entropy(net.forward(x), y);
    loss.backward();
    optimizer.step();
    if (step % 10 == 0) Console.WriteLine($"step {step,3}: loss {loss.item<float>():F4}");
}
