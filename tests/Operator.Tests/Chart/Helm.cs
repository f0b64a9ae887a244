using System.Diagnostics;
using NginxHa.Operator.Tests.Cluster;
using YamlDotNet.RepresentationModel;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>The real helm binary (scripts/install-helm.sh, pinned) run against charts/nginx-ha-operator.</summary>
public static class Helm
{
    public static string ChartPath => ApiServer.RepositoryPath("charts/nginx-ha-operator");

    /// <summary>The chart's example values files (ci/*-values.yaml), as xUnit theory data.</summary>
    public static TheoryData<string> ValuesFiles()
    {
        var data = new TheoryData<string> { "" }; // "" = the defaults
        foreach (var file in Directory.GetFiles(Path.Combine(ChartPath, "ci"), "*-values.yaml").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(file));
        return data;
    }

    public static string[] ValuesArgs(string valuesFile) =>
        valuesFile.Length == 0 ? [] : ["-f", Path.Combine(ChartPath, "ci", valuesFile)];

    private static string Binary
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("HELM") ?? "/usr/local/lib/nginx-ha/helm/helm";
            Assert.True(File.Exists(path), $"helm is required at {path}: run scripts/install-deps.sh (scripts/install-helm.sh)");
            return path;
        }
    }

    /// <summary>Runs helm; returns (exit code, stdout, stderr).</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(IEnumerable<string> args, string? kubeconfig = null)
    {
        var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        // A private helm home: no repositories, cache or plugins of the machine, nothing shared between tests.
        var home = Directory.CreateTempSubdirectory("nha-helm-").FullName;
        info.Environment["HELM_CACHE_HOME"] = Path.Combine(home, "cache");
        info.Environment["HELM_CONFIG_HOME"] = Path.Combine(home, "config");
        info.Environment["HELM_DATA_HOME"] = Path.Combine(home, "data");
        if (kubeconfig is not null) info.Environment["KUBECONFIG"] = kubeconfig;
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            try { await process.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"helm {string.Join(' ', info.ArgumentList)} did not finish within 2 minutes");
            }
            return (process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    /// <summary><c>helm template</c> of the chart; fails the test on a non-zero exit.</summary>
    public static async Task<string> TemplateAsync(params string[] args)
    {
        var (code, output, error) = await RunAsync(["template", "nha", ChartPath, "--namespace", "nginx-ha", .. args]);
        Assert.True(code == 0, $"helm template failed ({code}):\n{error}");
        return output;
    }

    /// <summary>The rendered documents as YAML mappings (empty documents dropped).</summary>
    public static List<YamlMappingNode> Documents(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }
}
