using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Xml.Linq;
using MLNet.FlatDebias.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MLNet.FlatDebias.Tests.Packaging;

/// <summary>
/// The library as its users get it: <c>dotnet pack</c> makes the package, and a console application in a folder outside
/// the repository (tests/PackageConsumer/Program.cs, a project that references the package from a local feed and the
/// Linux CPU backend, no ProjectReference, no import of this repository's files) restores, builds, trains, saves, loads
/// and scores image paths through a PredictionEngine. On a system whose libstdc++ lacks GLIBCXX_3.4.32 the training
/// only runs if the package's buildTransitive targets patched the application's copy of TorchSharp's native library.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class PackageConsumerTests(ITestOutputHelper output)
{
    private const string PackageId = "MLNet.FlatDebias";

    [Fact]
    public void A_console_app_that_references_the_packed_package_trains_saves_loads_and_scores_image_paths()
    {
        string repository = RepositoryRoot();
        using var folder = new TempFolder("package-consumer");
        string feed = folder.Combine("feed");
        string version = "0.0.0-consumertest." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string extracted = Path.Combine(packages, PackageId.ToLowerInvariant(), version);
        try
        {
            // Packs what the test run built (same configuration), under a version no other run uses, so the restore
            // below cannot take a stale copy from the NuGet cache.
            var pack = Dotnet(repository, "pack", Path.Combine(repository, "src", "MLNet.FlatDebias.csproj"), "-c", Configuration,
                "--no-build", "-o", feed, $"-p:PackageVersion={version}");
            Assert.True(pack.ExitCode == 0, pack.Output);
            string nupkg = Path.Combine(feed, $"{PackageId}.{version}.nupkg");
            Assert.True(File.Exists(nupkg), pack.Output);
            CheckPackageContents(nupkg, version);

            string app = folder.Combine("app");
            Directory.CreateDirectory(app);
            File.Copy(Path.Combine(AppContext.BaseDirectory, "PackageConsumer", "Program.cs"), Path.Combine(app, "Program.cs"));
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="{PackageId}" Version="{version}" />
                    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
                  </ItemGroup>
                </Project>
                """);
            // The local feed beside the machine's own sources (not cleared: the dependencies come from there).
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="flatdebias-local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            // Keeps the repository's Directory.Build.* and central versions out, should the temporary folder sit under it.
            File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />");
            File.WriteAllText(Path.Combine(app, "Directory.Build.targets"), "<Project />");
            File.WriteAllText(Path.Combine(app, "Directory.Packages.props"), "<Project />");

            var build = Dotnet(app, "build", "-c", "Release");
            Assert.True(build.ExitCode == 0, build.Output);
            var assets = File.ReadAllText(Path.Combine(app, "obj", "project.assets.json"));
            Assert.DoesNotContain(Path.Combine(repository, "src"), assets); // the package, not a project reference
            // The application resolves ML.NET 6 and SkiaSharp 3 through the package's dependencies alone.
            Assert.Contains("\"Microsoft.ML/6.0.0\"", assets);
            Assert.Contains("\"Microsoft.ML.ImageAnalytics/6.0.0\"", assets);
            Assert.DoesNotContain("\"Microsoft.ML/5.", assets);
            Assert.DoesNotContain("\"SkiaSharp/2.", assets);

            var run = Dotnet(app, "run", "-c", "Release", "--no-build", "--", folder.Combine("images"));
            output.WriteLine(run.Output);
            Assert.True(run.ExitCode == 0, run.Output);
            var result = run.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("result ", StringComparison.Ordinal));
            var values = result["result ".Length..].Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
            Assert.Equal("48", values["trained"]);
            Assert.Equal("20", values["epochs"]);
            // Every image path scored after Model.Load gets the label the in-memory model gave it.
            Assert.Equal(1.0, double.Parse(values["agree"], CultureInfo.InvariantCulture));
            // Red against blue squares: learnt within the 20 epochs (a broken pipeline sits near 0.5).
            Assert.True(double.Parse(values["accuracy"], CultureInfo.InvariantCulture) >= 0.9, run.Output);
            // Every other trainer through the package: evaluated overall and per group, saved and loaded with the same scores.
            foreach (var method in new[] { "Erm", "GroupDro", "Jtt", "Pgd", "Lff", "Dfr" })
            {
                var line = run.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith($"method {method} ", StringComparison.Ordinal));
                var m = line[$"method {method} ".Length..].Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
                Assert.Equal("2", m["groups"]);
                Assert.InRange(double.Parse(m["accuracy"], CultureInfo.InvariantCulture), 0.0, 1.0);
                Assert.True(double.Parse(m["reload_max_difference"], CultureInfo.InvariantCulture) <= Tolerance.OnnxVsTorchProbability, line);
            }
            // The last-layer methods as whole chains from image paths: every image path scored after Model.Load gets the
            // label the in-memory chain gave it.
            foreach (var method in new[] { "Afr", "Dpe", "FlatDebiasLastLayer" })
            {
                var line = run.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith($"lastlayer {method} ", StringComparison.Ordinal));
                var m = line[$"lastlayer {method} ".Length..].Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
                Assert.Equal("2", m["groups"]);
                Assert.InRange(double.Parse(m["accuracy"], CultureInfo.InvariantCulture), 0.0, 1.0);
                Assert.Equal(1.0, double.Parse(m["agree"], CultureInfo.InvariantCulture));
            }
            // The epoch lines are the reports' own one-line form.
            Assert.Contains(run.Output.Split('\n'), l => l.StartsWith("epoch 20/20  loss ", StringComparison.Ordinal));

            // The method search through the package: three trainings and a seed, the report and its chart, and the saved chosen
            // model scoring its validation rows as the search did (ONNX inside the zip against TorchSharp: a prediction can flip
            // only at a near-tie; 48 rows in 2 groups, so one row moves a group's accuracy by at least 1/48).
            var search = run.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("search ", StringComparison.Ordinal));
            var s = search["search ".Length..].Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
            Assert.Contains(s["chosen"], new[] { "erm", "jtt", "dfr" });
            Assert.Equal("4", s["entries"]);
            Assert.Equal("True", s["report"]);
            Assert.True(int.Parse(s["chart_bytes"], CultureInfo.InvariantCulture) > 5000, search);
            Assert.True(Math.Abs(double.Parse(s["validation_worst_group"], CultureInfo.InvariantCulture) - double.Parse(s["reloaded_worst_group"], CultureInfo.InvariantCulture)) <= 1.0 / 24, search);
        }
        finally
        {
            if (Directory.Exists(extracted)) Directory.Delete(extracted, recursive: true);
        }
    }

    /// <summary>The package holds the library, its XML docs, the readme and the native-fix targets, and names its
    /// dependencies without any libtorch backend (the application chooses one).</summary>
    private static void CheckPackageContents(string nupkg, string version)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var expected in new[]
        {
            "lib/net10.0/MLNet.FlatDebias.dll", "lib/net10.0/MLNet.FlatDebias.xml", "README.md",
            "buildTransitive/MLNet.FlatDebias.targets", "buildTransitive/MarkGlibcxxVersionWeak.cs",
        })
            Assert.Contains(expected, names);

        using var stream = zip.GetEntry($"{PackageId}.nuspec")!.Open();
        var nuspec = XDocument.Load(stream);
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal(PackageId, metadata.Element(ns + "id")!.Value);
        Assert.Equal(version, metadata.Element(ns + "version")!.Value);
        Assert.Equal("MIT", metadata.Element(ns + "license")!.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")!.Value));
        Assert.Contains("ML.NET", metadata.Element(ns + "tags")!.Value);
        Assert.Equal("git", metadata.Element(ns + "repository")!.Attribute("type")!.Value);
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        Assert.Contains("Microsoft.ML", dependencies);
        Assert.Contains("TorchSharp", dependencies);
        // NuGet reads a bare version as "this or later": the package asks for ML.NET 6 and SkiaSharp 3 at least.
        var ranges = metadata.Descendants(ns + "dependency").ToDictionary(d => d.Attribute("id")!.Value, d => d.Attribute("version")!.Value);
        Assert.Equal("6.0.0", ranges["Microsoft.ML"]);
        Assert.Equal("6.0.0", ranges["Microsoft.ML.ImageAnalytics"]);
        Assert.Equal("6.0.0", ranges["Microsoft.ML.OnnxTransformer"]);
        Assert.StartsWith("3.", ranges["SkiaSharp"], StringComparison.Ordinal);
        Assert.DoesNotContain(dependencies, d => d.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || d.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase));
    }

    private static string Configuration =>
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    /// <summary>The folder above the test binaries that holds MLNet.FlatDebias.sln (also used by Docs/DocumentationLinkTests).</summary>
    internal static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "MLNet.FlatDebias.sln"))) return directory.FullName;
        throw new InvalidOperationException($"No MLNet.FlatDebias.sln above {AppContext.BaseDirectory}.");
    }

    private static (int ExitCode, string Output) Dotnet(string workingDirectory, params string[] args)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var start = new ProcessStartInfo(host) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        // A build started from inside `dotnet test` inherits MSBuild's variables; the consumer must build as on its own.
        foreach (var key in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly" })
            start.Environment.Remove(key);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"dotnet {string.Join(' ', args)} did not finish in 8 minutes");
        }
        return (process.ExitCode, $"dotnet {string.Join(' ', args)}\n{stdout.Result}{stderr.Result}");
    }
}
