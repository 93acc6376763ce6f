using MLNet.FlatDebias.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// TorchSharp's Adam and SGD, with the same arithmetic in the same order, but with every <see cref="Scalar"/> made
/// explicitly and disposed only after the native call that reads it.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's own <c>step</c> passes implicit scalars (<c>add_(grad, alpha: 1 - beta1)</c>) whose handle it hands to
/// libtorch as a raw pointer: nothing keeps the managed <see cref="Scalar"/> alive during the native call, so a garbage
/// collection started by another thread at that moment can finalise it and free the native scalar while libtorch reads it
/// (seen once in the test suite as libtorch's <c>toFloat</c> "Expected false to be true" inside <c>Adam.step</c>, and once
/// more on 2026-12-06 from the implicit <c>alpha = 1</c> of <c>add_(eps)</c>, now held as well). Holding
/// each scalar in a <c>using</c> variable keeps it reachable until the call returns. The classes keep TorchSharp's type
/// names, state and parameter groups, so saved optimiser states load in either. The tests check that a step gives exactly
/// the parameters and moments TorchSharp's own step gives.
/// </remarks>
internal static class ScalarSafeOptimizers
{
    /// <summary>Adam (weight decay as an L2 term of the gradient, as <c>torch.optim.Adam</c>).</summary>
    internal sealed class Adam(IEnumerable<Parameter> parameters, double lr, double weightDecay, bool amsgrad = false)
        : TorchSharp.Modules.Adam(parameters, lr, weight_decay: weightDecay, amsgrad: amsgrad)
    {
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            using Scalar beta1Scalar = beta1.ToScalar(), oneMinusBeta1 = (1 - beta1).ToScalar();
            using Scalar beta2Scalar = beta2.ToScalar(), oneMinusBeta2 = (1 - beta2).ToScalar();
            using Scalar weightDecayScalar = weightDecay.ToScalar(), epsScalar = eps.ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null) continue;
                if (maximize) grad = -grad;
                state.step += 1;
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                if (weightDecay != 0) grad = grad.add(param, weightDecayScalar);
                state.exp_avg.mul_(beta1Scalar).add_(grad, oneMinusBeta1);
                state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad.conj(), oneMinusBeta2);
                using Scalar biasCorrection2Root = Math.Sqrt(biasCorrection2).ToScalar();
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                }
                var denominator = (amsgrad ? state.max_exp_avg_sq : state.exp_avg_sq).sqrt().div(biasCorrection2Root).add_(epsScalar, HeldScalars.One); // alpha held too (HeldScalars)
                using Scalar negativeStep = (-(lr / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denominator, negativeStep);
            }
        }, closure);
    }

    /// <summary>SGD with momentum (weight decay as an L2 term of the gradient, as <c>torch.optim.SGD</c>).</summary>
    internal sealed class SGD(IEnumerable<Parameter> parameters, double lr, double momentum, double weightDecay, bool nesterov = false)
        : TorchSharp.Modules.SGD(parameters, lr, momentum: momentum, weight_decay: weightDecay, nesterov: nesterov)
    {
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = group.Options;
            double momentum = options.momentum!.Value, dampening = options.dampening!.Value;
            double weightDecay = options.weight_decay!.Value, lr = options.LearningRate!.Value;
            bool nesterov = options.nesterov!.Value, maximize = options.maximize!.Value;
            using Scalar momentumScalar = momentum.ToScalar(), oneMinusDampening = (1 - dampening).ToScalar();
            using Scalar weightDecayScalar = weightDecay.ToScalar(), stepScalar = (maximize ? lr : -lr).ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null) continue;
                if (weightDecay != 0) grad = grad.add(param, weightDecayScalar);
                if (momentum != 0)
                {
                    var buffer = state.momentum_buffer;
                    if (buffer is null)
                        buffer = grad.clone().detach().DetachFromDisposeScope();
                    else
                        buffer.mul_(momentumScalar).add_(grad, oneMinusDampening);
                    grad = nesterov ? grad.add(buffer, momentumScalar) : buffer;
                    state.momentum_buffer = buffer;
                }
                param.add_(grad, stepScalar);
            }
        }, closure);
    }
}
