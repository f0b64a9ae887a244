using NginxHa.NodeAgent.Kubernetes;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Standalone;

namespace NginxHa.NodeAgent.Cli;

/// <summary>Options of <c>nginx-ha-agent kubernetes</c>: the agent applying its node's NodeHaConfig.</summary>
public sealed record KubernetesCommandOptions(RunCommandOptions Run, string? Kubeconfig);

/// <summary>
/// <c>nginx-ha-agent kubernetes --node NAME ...</c>: the node agent in Kubernetes mode. The same agent as
/// <c>run</c>, with the NodeHaConfig source and the status writer in place of the manifest files.
/// </summary>
public static class KubernetesCommand
{
    public const string Usage =
        "usage: nginx-ha-agent kubernetes --node NAME [--kubeconfig FILE] [--state-dir DIR] [--nginx PATH] [--health-port 18080] " +
        RunCommandLine.NginxModeUsage + " " + ObservabilityArguments.Usage + " (metrics default 127.0.0.1:9464; without --kubeconfig: the pod's service account)";

    public static KubernetesCommandOptions Parse(IReadOnlyList<string> args)
    {
        // --kubeconfig is this command's own; everything else is parsed as `run` parses it, without manifest files.
        string? kubeconfig = null;
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] != "--kubeconfig")
            {
                rest.Add(args[i]);
                continue;
            }
            if (i + 1 >= args.Count || args[i + 1].StartsWith('-')) throw new UsageException("--kubeconfig: a value is required");
            kubeconfig = Path.GetFullPath(args[++i]);
        }
        var run = RunCommandLine.Parse(rest, manifestFiles: false, nodeMeaning: "the name of this node's NodeHaConfig");
        return new KubernetesCommandOptions(run, kubeconfig);
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        KubernetesCommandOptions options;
        KubeConnection connection;
        try
        {
            options = Parse(args);
            connection = options.Kubeconfig is { } file ? KubeConnection.FromKubeconfig(file) : KubeConnection.InCluster();
        }
        catch (UsageException ex)
        {
            error.WriteLine($"nginx-ha-agent: {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is KubeConfigException or IOException or UnauthorizedAccessException or FormatException
                                       or YamlDotNet.Core.YamlException or System.Security.Cryptography.CryptographicException)
        {
            error.WriteLine($"nginx-ha-agent: {(ConnectionName(args))}: {Core.Text.SafeText.Escape(ex.Message, 300)}");
            return 1;
        }
        using var api = new KubeApiClient(connection);
        var run = options.Run;
        return await RunCommand.HostAsync(run, output, error, (log, shutdown, metrics) =>
        {
            var source = new KubernetesConfigSource(api, run.Node, new LastConfigStore(run.StateDirectory), TimeProvider.System, log.Write);
            var writer = new KubernetesStatusWriter(api, run.Node, () => source.Generation);
            var events = new KubernetesEventRecorder(api, run.Node, TimeProvider.System, log.Write);
            return new StandaloneAgent(run, log, error, shutdown, metrics, source, writer, events, waitForValidConfig: true);
        });
    }

    static string ConnectionName(IReadOnlyList<string> args) => args.Contains("--kubeconfig") ? "--kubeconfig" : "in-cluster config";
}
