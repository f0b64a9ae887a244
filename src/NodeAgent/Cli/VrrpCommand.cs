using System.Net.Sockets;
using System.Runtime.InteropServices;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Cli;

/// <summary><c>nginx-ha-agent vrrp ...</c>: one VRRP instance in the foreground, on the main thread, until SIGTERM/SIGINT.</summary>
public static class VrrpCommand
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        VrrpCommandOptions options;
        try
        {
            options = VrrpCommandLine.Parse(args);
        }
        catch (UsageException ex)
        {
            error.WriteLine($"nginx-ha-agent: {ex.Message}");
            return 2;
        }

        var plan = new InstancePlan($"vrid {options.VirtualRouterId}", options.Interface, options.Version, options.VirtualRouterId,
            options.Priority, options.AdvertInterval, options.Preempt, options.PreemptDelay, options.VirtualAddresses,
            options.UnicastPeers, options.AuthPassFile, options.GratuitousRepeat, options.GratuitousInterval, options.GratuitousRefresh);
        var log = new LineLog(output);
        // Set straight from the signal handler; the speaker's loop polls it and hands over at once.
        using var shutdown = ShutdownLatch.OnSignals(PosixSignal.SIGTERM, PosixSignal.SIGINT);

        using var metrics = new AgentMetrics();
        var instanceMetrics = VrrpInstanceMetrics.For(plan, MonotonicTimeProvider.Instance);
        using var registration = metrics.Register(instanceMetrics);
        BuiltSpeaker built;
        try
        {
            built = SpeakerFactory.Build(plan, fault: false, MonotonicTimeProvider.Instance, log.Write, instanceMetrics);
        }
        catch (SpeakerSetupException ex)
        {
            // The same one line a bad argument gets, naming the argument the problem comes from.
            var argument = ex.Field == "authPasswordFile" ? "--auth-pass-file" : "--interface";
            error.WriteLine($"nginx-ha-agent: {argument}: {ex.Reason}");
            return 2;
        }
        using (built)
        await using (var server = MetricsEndpoint.StartInBackground(options.MetricsAddress, metrics,
                         () => Readiness.Of(metrics, configApplied: true), node: Environment.MachineName, log.Write))
        {
            // On this thread, the main one: Linux delivers a process's SIGTERM to its main thread, so the signal wakes
            // the speaker's loop directly (docs/benchmarks.md, clean stop).
            built.Speaker.Run(CancellationToken.None, shutdown);
        }
        log.Write($"vrid {options.VirtualRouterId}: stopped (priority 0 sent, VIPs removed); dropped adverts: {built.Speaker.Drops.Total}");
        return 0;
    }

}

/// <summary>One line per event, with a UTC timestamp: what the README and the tests read.</summary>
public sealed class LineLog(TextWriter output)
{
    readonly object _gate = new();

    public void Write(string line)
    {
        lock (_gate)
        {
            output.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {line}");
            output.Flush();
        }
    }
}
