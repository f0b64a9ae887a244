using System.Runtime.InteropServices;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Standalone;

namespace NginxHa.NodeAgent.Cli;

/// <summary><c>nginx-ha-agent run ...</c>: the standalone node agent in the foreground until SIGTERM/SIGINT.</summary>
public static class RunCommand
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        RunCommandOptions options;
        try
        {
            options = RunCommandLine.Parse(args);
        }
        catch (UsageException ex)
        {
            error.WriteLine($"nginx-ha-agent: {ex.Message}");
            return 2;
        }
        // The host, before anything is touched: one line naming cause and fix, exit 1, nothing started.
        if (StartupPreflight.Capabilities() is { Count: > 0 } missing)
        {
            error.WriteLine($"nginx-ha-agent: {string.Join("; ", missing)}");
            return 1;
        }
        AgentLock agentLock;
        try
        {
            agentLock = AgentLock.Acquire(options.Node, options.StateDirectory);
        }
        catch (AgentLockedException ex)
        {
            error.WriteLine($"nginx-ha-agent: {ex.Message}");
            return 1;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"nginx-ha-agent: {StartupPreflight.WritableDirectory(options.StateDirectory, "--state-dir") ?? ex.Message}");
            return 1;
        }
        using var held = agentLock;
        if (StartupPreflight.WritableDirectory(options.StateDirectory, "--state-dir") is { } unwritable)
        {
            error.WriteLine($"nginx-ha-agent: {unwritable}");
            return 1;
        }

        var log = new LineLog(output, options.LogFormat);
        // Wakes every speaker's thread straight from the signal handler: the priority-0 adverts leave first.
        using var shutdown = ShutdownLatch.OnSignals(PosixSignal.SIGTERM, PosixSignal.SIGINT);
        using var metrics = new AgentMetrics();
        var agent = new StandaloneAgent(options, log, error, shutdown, metrics);
        await using var server = MetricsEndpoint.StartInBackground(options.MetricsAddress, metrics, () => agent.Readiness, options.Node, log.Write);
        using var stop = new CancellationTokenSource();
        using var sigterm = ProcessSignals.Subscribe(PosixSignal.SIGTERM, stop.Cancel);
        using var sigint = ProcessSignals.Subscribe(PosixSignal.SIGINT, stop.Cancel);
        using var sighup = ProcessSignals.Subscribe(PosixSignal.SIGHUP, () => agent.RequestReload("SIGHUP"));
        return await agent.RunAsync(stop.Token);
    }
}
