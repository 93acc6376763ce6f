// Coloured MNIST (LfF / PGD protocol): ERM, GroupDRO and FlatDebias at each bias-conflicting share, reporting
// unbiased test accuracy and worst-group accuracy. `--help` lists the options.
using MLNet.FlatDebias.Examples.ColoredMnist;
using MLNet.FlatDebias.Datasets.Mnist;

return ColoredMnistExample.Run(args, Console.Out, Console.Error);
