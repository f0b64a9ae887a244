using System.Net;
using NginxHa.NodeAgent.Cli;
using NginxHa.NodeAgent.Node;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Standalone;

/// <summary>
/// What <c>nginx-ha-agent run</c> checks on the host once its config is loaded and before it starts nginx or opens a
/// socket: every interface an instance uses, the nginx binary, and the ports nginx will listen on. Failures are lines
/// naming the cause and the fix (the agent then exits 1 with nothing started); warnings are logged and it goes on.
/// </summary>
public static class RunPreflight
{
    public sealed record Findings(IReadOnlyList<string> Failures, IReadOnlyList<string> Warnings);

    /// <param name="leftoverNginx">an nginx master of an earlier run of this state dir is alive: it holds our ports,
    /// and the supervisor replaces it, so the ports are not checked.</param>
    public static Findings Check(NodeDesiredState desired, RunCommandOptions options, bool leftoverNginx)
    {
        var failures = new List<string>();
        var warnings = new List<string>();
        foreach (var instance in desired.Instances)
        {
            var family = instance.VirtualAddresses[0].Address.AddressFamily;
            if (StartupPreflight.Interface(instance.Interface, family, $"{instance.Name}: interface") is { } problem)
                failures.Add(problem);
            else if (StartupPreflight.Carrier(instance.Interface) is { } noCarrier)
                warnings.Add($"{instance.Name}: {noCarrier}");
        }

        if (StartupPreflight.NginxBinary(options.NginxBinary) is { } nginx)
            failures.Add(nginx);

        // Sidecar mode: nginx binds the ports in its own container (the agent lacks NET_BIND_SERVICE there), and one
        // that is taken shows as a sidecar that does not start, which keeps the instances in FAULT.
        if (!leftoverNginx && options.NginxMode == Nginx.NginxSupervisionMode.Child)
        {
            if (StartupPreflight.TcpPortFree(IPAddress.Loopback, options.HealthPort, "--health-port, nginx's /healthz",
                    "choose another --health-port") is { } health)
                failures.Add(health);
            var wildcardPorts = desired.Config.Spec.BackendPools
                .SelectMany(p => (p.Spec.Listeners.Count > 0 ? p.Spec.Listeners : [new Core.Resources.NginxListener()])
                    .Where(l => l.Address is null).Select(l => (Pool: p.Name, l.Port)))
                .DistinctBy(l => l.Port);
            foreach (var (pool, port) in wildcardPorts)
            {
                if (port == options.HealthPort) continue;
                if (StartupPreflight.TcpPortFree(IPAddress.Any, port, $"a listener of NginxBackendPool {pool}",
                        "move the listener to another port") is { } listener)
                    failures.Add(listener);
            }
        }
        return new Findings(failures, warnings);
    }

    /// <summary>The pid file names a live nginx master (an earlier run's, which the supervisor will replace).</summary>
    public static bool NginxAlive(string pidFile)
    {
        try
        {
            if (!int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) || pid <= 0) return false;
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z')) return false;
            return File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("nginx: master process", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
