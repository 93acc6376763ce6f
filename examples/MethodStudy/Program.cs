using MLNet.FlatDebias.Examples.MethodStudy;

return StudyProgram.Run(args, Console.Out);
