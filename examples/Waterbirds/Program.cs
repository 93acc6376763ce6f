// The main job: the paper's Waterbirds experiment (ERM, GroupDRO and FlatDebias on the same data and network, each
// selected on validation worst-group accuracy, then evaluated on test). `--help` lists the options.
using MLNet.FlatDebias.Examples.Waterbirds;

return WaterbirdsExample.Run(args, Console.Out, Console.Error);
