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

        ReadOnlyMemory<byte> auth = default;
        try
        {
            if (options.AuthPassFile is { } file) auth = VrrpPasswordFile.Read(file);
        }
        catch (SecretFileException ex)
        {
            error.WriteLine($"nginx-ha-agent: --auth-pass-file: {ex.Message}");
            return 2;
        }
        var plan = new InstancePlan($"vrid {options.VirtualRouterId}", options.Interface, options.Version, options.VirtualRouterId,
            options.Priority, options.AdvertInterval, options.Preempt, options.PreemptDelay, options.VirtualAddresses,
            options.UnicastPeers, auth, options.GratuitousRepeat, options.GratuitousInterval, options.GratuitousRefresh);
        var log = new LineLog(output, options.LogFormat);

        // The host, before anything is opened: one line naming cause and fix, exit 1, nothing bound.
        var environment = StartupPreflight.Capabilities().ToList();
        if (environment.Count == 0 && StartupPreflight.Interface(options.Interface, options.VirtualAddresses[0].Address.AddressFamily, "--interface") is { } ifProblem)
            environment.Add(ifProblem);
        if (environment.Count > 0)
        {
            error.WriteLine($"nginx-ha-agent: {string.Join("; ", environment)}");
            return 1;
        }

        // Set straight from the signal handler; the speaker's loop polls it and hands over at once.
        using var shutdown = ShutdownLatch.OnSignals(PosixSignal.SIGTERM, PosixSignal.SIGINT);
        // After the handlers: whoever reads this line may stop us with SIGTERM and gets the ordinary stop (exit 0).
        if (StartupPreflight.Carrier(options.Interface) is { } noCarrier) log.Write($"warning: {noCarrier}");

        using var metrics = new AgentMetrics();
        var instanceMetrics = VrrpInstanceMetrics.For(plan, TimeProvider.System);
        using var registration = metrics.Register(instanceMetrics);
        BuiltSpeaker built;
        try
        {
            var speakerLog = log.ForInstance(plan);
            built = SpeakerFactory.Build(plan, fault: false, TimeProvider.System, speakerLog.Write,
                new SpeakerObservers(instanceMetrics, speakerLog));
        }
        catch (SpeakerSetupException ex)
        {
            // The same one line a bad argument gets, naming the argument the problem comes from.
            error.WriteLine($"nginx-ha-agent: --interface: {ex.Reason}");
            return 2;
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            error.WriteLine($"nginx-ha-agent: {StartupPreflight.Describe(ex, plan.Name)}");
            return 1;
        }
        using (built)
        await using (var server = MetricsEndpoint.StartInBackground(options.MetricsAddress, metrics,
                         () => Readiness.Of(metrics, configApplied: true), node: Environment.MachineName, log.Write))
        {
            try
            {
                // On this thread, the main one: Linux delivers a process's SIGTERM to its main thread, so the signal wakes
                // the speaker's loop directly (docs/benchmarks.md, clean stop).
                built.Speaker.Run(CancellationToken.None, shutdown);
            }
            catch (Exception ex)
            {
                // Never a silent or half-dead speaker: its loop released the VIPs on the way out; say why and fail.
                error.WriteLine($"nginx-ha-agent: {plan.Name}: the VRRP speaker failed and stopped ({ex.GetType().Name}: " +
                                $"{Core.Text.SafeText.Escape(ex.Message)}); VIPs removed");
                return 1;
            }
        }
        log.Write($"vrid {options.VirtualRouterId}: stopped (priority 0 sent, VIPs removed); dropped adverts: {built.Speaker.Drops.Total}");
        return 0;
    }

}
