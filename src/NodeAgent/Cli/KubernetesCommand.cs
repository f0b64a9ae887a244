using NginxHa.Core.Resources;
using NginxHa.Core.Text;
using NginxHa.NodeAgent.Kubernetes;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Standalone;

namespace NginxHa.NodeAgent.Cli;

/// <summary>Options of <c>nginx-ha-agent kubernetes</c>: the agent applying its node's NodeHaConfig.</summary>
/// <param name="LeaseNamespace">Where the heartbeat Lease is renewed: the operator's namespace.</param>
/// <param name="HeartbeatDuration">The heartbeat Lease's duration; renewed every quarter of it.</param>
public sealed record KubernetesCommandOptions(RunCommandOptions Run, string? Kubeconfig, string LeaseNamespace, TimeSpan HeartbeatDuration);

/// <summary>
/// <c>nginx-ha-agent kubernetes --node NAME ...</c>: the node agent in Kubernetes mode. The same agent as
/// <c>run</c>, with the NodeHaConfig source and the status writer in place of the manifest files.
/// </summary>
public static class KubernetesCommand
{
    public const string Usage =
        "usage: nginx-ha-agent kubernetes --node NAME [--kubeconfig FILE] [--lease-namespace NS] [--heartbeat-duration 20s] [--state-dir DIR] [--nginx PATH] [--health-port 18080] " +
        RunCommandLine.NginxModeUsage + " " + ObservabilityArguments.Usage + " (metrics default 127.0.0.1:9464; without --kubeconfig: the pod's service account; --lease-namespace default: $POD_NAMESPACE, else default)";

    public static KubernetesCommandOptions Parse(IReadOnlyList<string> args)
    {
        // --kubeconfig, --lease-namespace and --heartbeat-duration are this command's own; everything else is parsed as
        // `run` parses it, without manifest files.
        string? kubeconfig = null;
        var leaseNamespace = Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 } podNamespace ? podNamespace : "default";
        var heartbeat = LeaseHeartbeat.DefaultDuration;
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (name is not ("--kubeconfig" or "--lease-namespace" or "--heartbeat-duration"))
            {
                rest.Add(name);
                continue;
            }
            if (i + 1 >= args.Count || args[i + 1].StartsWith('-')) throw new UsageException($"{name}: a value is required");
            var value = args[++i];
            switch (name)
            {
                case "--kubeconfig": kubeconfig = Path.GetFullPath(value); break;
                case "--lease-namespace":
                    leaseNamespace = System.Text.RegularExpressions.Regex.IsMatch(value, "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$") ? value
                        : throw new UsageException($"{name}: \"{SafeText.Escape(value, 80)}\" is not a namespace name (lower-case letters, digits and '-', at most 63)");
                    break;
                default:
                    heartbeat = Duration.TryParse(value, out var parsed, out var reason) && parsed >= TimeSpan.FromSeconds(2) && parsed <= TimeSpan.FromHours(1)
                                && parsed.Ticks % TimeSpan.TicksPerSecond == 0
                        ? parsed
                        : throw new UsageException($"{name}: \"{SafeText.Escape(value, 80)}\" {reason ?? "is not whole seconds from 2s to 1h"}");
                    break;
            }
        }
        var run = RunCommandLine.Parse(rest, manifestFiles: false, nodeMeaning: "the name of this node's NodeHaConfig");
        return new KubernetesCommandOptions(run, kubeconfig, leaseNamespace, heartbeat);
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
            var writer = new KubernetesStatusWriter(api, run.Node);
            // The Lease is renewed only while the agent's loops show progress: it says the agent works, not only that it runs.
            var liveness = new Node.AgentLiveness(TimeProvider.System);
            var heartbeat = new LeaseHeartbeat(api, options.LeaseNamespace, run.Node, options.HeartbeatDuration, TimeProvider.System, log.Write)
            {
                Liveness = liveness,
            };
            var events = new KubernetesEventRecorder(api, run.Node, TimeProvider.System, log.Write);
            return new StandaloneAgent(run, log, error, shutdown, metrics, source, writer, heartbeat.RunAsync, events, waitForValidConfig: true,
                liveness: liveness);
        });
    }

    static string ConnectionName(IReadOnlyList<string> args) => args.Contains("--kubeconfig") ? "--kubeconfig" : "in-cluster config";
}
