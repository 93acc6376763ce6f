using System.Globalization;
using MLNet.FlatDebias.Benchmarks;
using MLNet.FlatDebias.Examples.MethodStudy;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>
/// The benchmark command (examples/Benchmarks) and the method study (examples/MethodStudy) in their smallest settings,
/// so neither rots: every suite prints its table with numbers, the study writes its runs, summary and charts and resumes
/// without repeating finished runs, and a bad command line gets exit code 2 and one line.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class BenchmarkAndStudyProgramTests
{
    private const string DefaultVariant = "D=flat:scope=head,est=empirical,grad=loss,ref=warmup,use=penalty,q=0.8,eta=1,max=50,warm=1,topk=8";

    [Fact]
    public void Benchmark_quick_run_prints_every_suite_with_measured_numbers()
    {
        var output = new StringWriter();
        int code = BenchmarkProgram.Run(["--quick"], output);
        string text = output.ToString();

        Assert.True(code == 0, text);
        foreach (var header in new[] { "## Training step", "## FlatDebias step cost", "## Preprocessing", "## Feature cache", "## OpenMP wait policy", "## Feature extraction", "## Frozen-backbone table", "## Correct convolutions", "## Methods", "## Last-layer methods" })
            Assert.Contains(header, text);
        var lines = text.Split('\n', StringSplitOptions.TrimEntries);
        AssertMeasuredNumbers(lines.Single(l => l.StartsWith("ResNet18 ", StringComparison.Ordinal)), 3);
        AssertMeasuredNumbers(lines.Single(l => l.StartsWith("SmallCnn", StringComparison.Ordinal) && l.Contains("Empirical", StringComparison.Ordinal)), 7);
        AssertMeasuredNumbers(lines.Single(l => l.StartsWith("Disk ", StringComparison.Ordinal)), 4);
        AssertMeasuredNumbers(lines.Single(l => l.StartsWith("without (libtorch default), beside", StringComparison.Ordinal)), 2);
        Assert.Contains(lines, l => l.StartsWith("library setting (PASSIVE), alone", StringComparison.Ordinal) && l.EndsWith("PASSIVE", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ratio beside/alone: PASSIVE ", StringComparison.Ordinal));
        AssertMeasuredNumbers(lines.Single(l => l.StartsWith("ONNX Runtime via ML.NET ApplyOnnxModel", StringComparison.Ordinal))["ONNX Runtime via ML.NET ApplyOnnxModel".Length..], 4);
        AssertMeasuredNumbers(lines.Single(l => l.StartsWith("TorchSharp, eval + no_grad", StringComparison.Ordinal))["TorchSharp, eval + no_grad".Length..], 3);
        Assert.Contains(lines, l => l.StartsWith("three-method table with extraction: ", StringComparison.Ordinal));
        AssertMeasuredNumbers(lines.Single(l => l.StartsWith("SmallCnn      4   28px", StringComparison.Ordinal)), 6);
        foreach (var fit in new[] { "ERM head", "DFR (groups", "AFR", "DPE", "FlatDebias last layer" })
            AssertMeasuredNumbers(lines.Single(l => l.StartsWith(fit, StringComparison.Ordinal))[fit.Length..], 2);
        foreach (var method in new[] { "ERM", "DFR", "GroupDRO", "FlatDebias", "JTT", "PGD", "LfF" })
            AssertMeasuredNumbers(lines.Single(l => l.StartsWith($"| {method} | ", StringComparison.Ordinal)).Replace("|", " ", StringComparison.Ordinal), 3);
    }

    [Fact]
    public void Study_quick_run_on_the_frozen_resnet18_set_trains_linear_heads_with_the_papers_exact_setting()
    {
        using var folder = new TempFolder("method-study-wbr18");
        string threads = TorchSharp.torch.get_num_threads().ToString(CultureInfo.InvariantCulture);
        string[] args = ["--quick", "--sets", "wbr18", "--seeds", "0", "--variant", "erm",
            "--variant", "paper=flat:scope=full,est=exact,grad=full,ref=model,q=0.8,eta=0.1,max=10,warm=1,topk=none,use=penalty",
            "--out", folder.Path, "--threads", threads];
        Assert.Equal(0, StudyProgram.Run(args, new StringWriter()));
        var runs = File.ReadAllLines(folder.Combine("runs.csv"));
        Assert.Contains(runs, r => r.StartsWith("wbr18,erm,", StringComparison.Ordinal));
        Assert.Contains(runs, r => r.StartsWith("wbr18,paper,", StringComparison.Ordinal));
        // The features were extracted once into feature files beside the set.
        Assert.Equal(3, Directory.GetFiles(folder.Combine("data"), "*.idv", SearchOption.AllDirectories).Length);
    }

    [Theory]
    [InlineData("--threads", "0")]
    [InlineData("everything")]
    public void Benchmark_bad_command_line_gives_exit_code_2_and_one_line(params string[] args)
        => AssertOneLineError(() => BenchmarkProgram.Run(args, new StringWriter()));

    [Fact]
    public void Study_quick_run_writes_runs_summary_and_charts_and_resumes()
    {
        using var folder = new TempFolder("method-study");
        string threads = TorchSharp.torch.get_num_threads().ToString(CultureInfo.InvariantCulture);
        string[] args = ["--quick", "--sets", "cmnist5", "--seeds", "0", "--variant", "erm", "--variant", DefaultVariant,
            "--out", folder.Path, "--threads", threads];

        var first = new StringWriter();
        Assert.Equal(0, StudyProgram.Run(args, first));
        var runs = File.ReadAllLines(folder.Combine("runs.csv"));
        Assert.Equal(3, runs.Length); // header + one run per variant
        Assert.Contains(runs, r => r.StartsWith("cmnist5,erm,", StringComparison.Ordinal));
        Assert.Contains(runs, r => r.StartsWith("cmnist5,D,", StringComparison.Ordinal));
        var summary = File.ReadAllText(folder.Combine("summary.md"));
        Assert.Contains("| erm | 1 |", summary);
        Assert.Contains("| D | 1 |", summary);
        foreach (var png in new[] { "wga-cmnist5.png", "average-cmnist5.png", "traces-cmnist5.png" })
            Assert.True(new FileInfo(folder.Combine(png)).Length > 1000, png);

        var second = new StringWriter();
        Assert.Equal(0, StudyProgram.Run(args, second));
        Assert.DoesNotContain("seed 0:", second.ToString());
        Assert.Equal(runs, File.ReadAllLines(folder.Combine("runs.csv")));
    }

    [Theory]
    [InlineData("--threads", "0")]
    [InlineData("--variant", "x=magic:scope=head")]
    [InlineData("--seeds", "one")]
    public void Study_bad_command_line_gives_exit_code_2_and_one_line(params string[] args)
    {
        using var folder = new TempFolder("method-study");
        AssertOneLineError(() => StudyProgram.Run([.. args, "--out", folder.Path], new StringWriter()));
    }

    /// <summary>Runs a program that writes its errors to the console's error stream (not to a writer it is given).</summary>
    private static void AssertOneLineError(Func<int> run)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = run();
        }
        finally
        {
            Console.SetError(saved);
        }
        ExampleRun.AssertOneLineError(code, error.ToString());
    }

    private static void AssertMeasuredNumbers(string line, int atLeast)
    {
        var numbers = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => double.TryParse(t.TrimEnd('x'), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : (double?)null)
            .Where(v => v is not null).Select(v => v!.Value).ToList();
        Assert.True(numbers.Count >= atLeast, line);
        // Times and ratios: finite, none negative (a reading time can round to 0.00), most of them positive.
        Assert.All(numbers, v => Assert.True(v >= 0 && double.IsFinite(v), line));
        Assert.True(numbers.Count(v => v > 0) >= atLeast - 1, line);
    }
}
