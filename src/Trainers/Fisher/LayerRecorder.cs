using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// Records the input and output of every layer the fast trace path supports, through forward hooks
/// (TorchSharp has no backward hooks: the gradients with respect to the recorded outputs are taken with
/// <c>autograd.grad</c> afterwards). A layer is supported when its per-sample gradient norms have a closed
/// form from (input, output gradient): Linear, <see cref="GuardedConv2d"/>, Conv2d (groups 1, zero padding), <see cref="StridedPointwiseConv2d"/>,
/// and batch norm in evaluation mode with running statistics.
/// </summary>
internal sealed class LayerRecorder : IDisposable
{
    private readonly List<nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover> removers = [];
    private readonly Dictionary<nn.Module, int> calls = new(ReferenceEqualityComparer.Instance);

    public LayerRecorder(nn.Module network)
    {
        foreach (var (_, module) in network.named_modules())
        {
            if (module is not nn.Module<Tensor, Tensor> layer || !IsSupported(module) || !TrainableParameters(module).Any()) continue;
            removers.Add(layer.register_forward_hook((m, input, output) =>
            {
                calls[m] = calls.GetValueOrDefault(m) + 1;
                Captures.Add(new LayerCapture(m, input, output));
                return output;
            }));
        }
    }

    /// <summary>What the hooks saw, in call order.</summary>
    public List<LayerCapture> Captures { get; } = [];

    /// <summary>Captures of layers that ran exactly once (a layer used twice shares its weights across uses:
    /// its per-sample gradient is a sum, so it goes to the per-sample loop instead).</summary>
    public IEnumerable<LayerCapture> SingleUseCaptures => Captures.Where(c => calls[c.Module] == 1);

    public static IEnumerable<Parameter> TrainableParameters(nn.Module module)
        => module.named_parameters(recurse: false).Select(p => p.parameter).Where(p => p.requires_grad);

    public static bool IsSupported(nn.Module module) => module switch
    {
        Linear => true,
        StridedPointwiseConv2d or GuardedConv2d => true,
        Conv2d conv => conv.groups == 1 && conv.padding_mode == PaddingModes.Zeros && conv.padding_type is null,
        BatchNorm2d or BatchNorm1d => true, // checked again at use: evaluation mode with running statistics
        _ => false,
    };

    public void Dispose()
    {
        foreach (var remover in removers) remover.remove();
        removers.Clear();
    }
}

/// <summary>One recorded call of a layer.</summary>
internal sealed record LayerCapture(nn.Module Module, Tensor Input, Tensor Output);
