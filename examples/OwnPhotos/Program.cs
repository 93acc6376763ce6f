// Your own photos: a folder per class and a CSV of relative paths (path,label,group,split), through the "pretrained
// features" recipe: LoadImageList, ImageNetPreprocessing, the built-in ImageNet ResNet-18, feature files, a debiasing
// head, EvaluateGroups, a saved chain scored from another folder. Without --csv it draws a small demo folder first.
// `--help` lists the options; docs/own-photos.md walks through the code.
using MLNet.FlatDebias.Examples.OwnPhotos;

return OwnPhotosExample.Run(args, Console.Out, Console.Error);
