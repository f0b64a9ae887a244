using System.Globalization;
using System.Net;
using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Cli;

/// <summary>Options of <c>nginx-ha-agent run</c>: the standalone node agent.</summary>
public sealed record RunCommandOptions(IReadOnlyList<string> Files, string Node, string StateDirectory, string NginxBinary, int HealthPort)
{
    /// <summary>Where /metrics, /healthz, /readyz and /status are served; null: not served.</summary>
    public IPEndPoint? MetricsAddress { get; init; } = ObservabilityArguments.DefaultMetricsAddress;

    public LogFormat LogFormat { get; init; }

    /// <summary>Child: the agent runs nginx. Sidecar: nginx runs in another container of the pod (shared process
    /// namespace); the agent writes its config and finds its master through the pid file.</summary>
    public NginxSupervisionMode NginxMode { get; init; } = NginxSupervisionMode.Child;

    /// <summary>nginx's prefix (conf/, logs/, tmp/, secrets/): the state dir's nginx/ unless --nginx-dir says where (the
    /// chart puts it on a memory-backed volume shared with the sidecar, the state dir on the host).</summary>
    public string? NginxDirectoryOverride { get; init; }

    public string NginxDirectory => NginxDirectoryOverride ?? Path.Combine(StateDirectory, "nginx");

    /// <summary>nginx's temp paths (client_body/, proxy/, ...); null: tmp/ under <see cref="NginxDirectory"/>. In the chart
    /// each container has its own (the agent's image holds them, owned by nginx's worker user, so that its `nginx -t`
    /// needs no chown, a capability the agent does not have).</summary>
    public string? NginxTempDirectory { get; init; }

    /// <summary>The gid nginx's workers run with: the htpasswd files of basic-auth Secrets are given to this group (0640),
    /// as the workers open them per request. nginx's default without a user directive is nobody:nogroup (65534).</summary>
    public uint NginxWorkerGroupId { get; init; } = NginxHa.NodeAgent.Node.SecretFileStore.NginxDefaultWorkerGroupId;
}

public static class RunCommandLine
{
    public const string Usage =
        "usage: nginx-ha-agent run -f FILE [-f FILE ...] --node NAME [--state-dir DIR] [--nginx PATH] [--health-port 18080] " +
        NginxModeUsage + " " + ObservabilityArguments.Usage + " (metrics default 127.0.0.1:9464)";

    internal const string NginxModeUsage = "[--nginx-mode child|sidecar] [--nginx-dir DIR] [--nginx-temp-dir DIR] [--nginx-worker-gid 65534]";

    public static RunCommandOptions Parse(IReadOnlyList<string> args) =>
        Parse(args, manifestFiles: true, nodeMeaning: "the name of this host's Node document");

    /// <summary>
    /// The options `run` and `kubernetes` share. <paramref name="manifestFiles"/>: -f is taken and required (run);
    /// otherwise it is an unknown argument. <paramref name="nodeMeaning"/> completes the message when --node is missing.
    /// </summary>
    internal static RunCommandOptions Parse(IReadOnlyList<string> args, bool manifestFiles, string nodeMeaning)
    {
        var files = new List<string>();
        string? node = null, stateDir = null, nginx = null, nginxDir = null, nginxTemp = null;
        var nginxMode = NginxSupervisionMode.Child;
        int healthPort = 18080;
        uint workerGid = NginxHa.NodeAgent.Node.SecretFileStore.NginxDefaultWorkerGroupId;
        IPEndPoint? metricsAddress = ObservabilityArguments.DefaultMetricsAddress;
        var logFormat = LogFormat.Text;
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith('-'))
                    throw new UsageException($"{name}: a value is required");
                return args[++i];
            }
            switch (name)
            {
                case "-f" or "--file" when manifestFiles: files.Add(Value()); break;
                case "--node": node = Value(); break;
                case "--state-dir": stateDir = Value(); break;
                case "--nginx": nginx = Value(); break;
                case "--nginx-mode":
                    nginxMode = Value() switch
                    {
                        "child" => NginxSupervisionMode.Child,
                        "sidecar" => NginxSupervisionMode.Sidecar,
                        var other => throw new UsageException($"{name}: \"{other}\" is not child or sidecar"),
                    };
                    break;
                case "--nginx-dir": nginxDir = Value(); break;
                case "--nginx-temp-dir": nginxTemp = Value(); break;
                case "--health-port":
                    var text = Value();
                    if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out healthPort) || healthPort is < 1 or > 65535)
                        throw new UsageException($"{name}: \"{text}\" is not a port from 1 to 65535");
                    break;
                case "--nginx-worker-gid":
                    var gid = Value();
                    // 0 would make root's group the readers; (uint)-1 means "unchanged" to chown(2).
                    if (!uint.TryParse(gid, NumberStyles.None, CultureInfo.InvariantCulture, out workerGid) || workerGid is 0 or uint.MaxValue)
                        throw new UsageException($"{name}: \"{Core.Text.SafeText.Escape(gid, 40)}\" is not a group id from 1 to 4294967294");
                    break;
                case "--metrics-address": metricsAddress = ObservabilityArguments.ParseMetricsAddress(name, Value()); break;
                case "--log-format": logFormat = ObservabilityArguments.ParseLogFormat(name, Value()); break;
                default: throw new UsageException($"{name}: unknown argument");
            }
        }
        if (manifestFiles && files.Count == 0) throw new UsageException("-f: at least one manifest file is required");
        if (node is null) throw new UsageException($"--node: required ({nodeMeaning})");
        stateDir ??= $"/run/nginx-ha/{node}";
        if (!Path.IsPathFullyQualified(stateDir)) stateDir = Path.GetFullPath(stateDir);
        if (nginxDir is not null && !Path.IsPathFullyQualified(nginxDir)) nginxDir = Path.GetFullPath(nginxDir);
        if (nginxTemp is not null && !Path.IsPathFullyQualified(nginxTemp)) nginxTemp = Path.GetFullPath(nginxTemp);
        return new RunCommandOptions(files.Select(Path.GetFullPath).ToArray(), node, stateDir, nginx ?? "/usr/sbin/nginx", healthPort)
        {
            MetricsAddress = metricsAddress,
            LogFormat = logFormat,
            NginxMode = nginxMode,
            NginxDirectoryOverride = nginxDir,
            NginxWorkerGroupId = workerGid,
            NginxTempDirectory = nginxTemp?.TrimEnd('/') is { Length: > 0 } t ? t : nginxTemp,
        };
    }
}
