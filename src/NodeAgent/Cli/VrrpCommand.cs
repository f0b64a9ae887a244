using System.Net.Sockets;
using System.Runtime.InteropServices;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Cli;

/// <summary><c>nginx-ha-agent vrrp ...</c>: one VRRP instance in the foreground until SIGTERM/SIGINT.</summary>
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
        // The latch wakes the speaker's thread straight from the signal handler, so the priority-0 advert leaves
        // first; the subscriptions then end this command once the hand-over is done.
        using var shutdown = ShutdownLatch.OnSignals(PosixSignal.SIGTERM, PosixSignal.SIGINT);
        var stop = new TaskCompletionSource();
        using var sigterm = ProcessSignals.Subscribe(PosixSignal.SIGTERM, () => stop.TrySetResult());
        using var sigint = ProcessSignals.Subscribe(PosixSignal.SIGINT, () => stop.TrySetResult());

        RunningSpeaker running;
        try
        {
            running = SpeakerFactory.Start(plan, fault: false, MonotonicTimeProvider.Instance, log.Write, shutdown);
        }
        catch (SpeakerSetupException ex)
        {
            // The same one line a bad argument gets, naming the argument the problem comes from.
            var argument = ex.Field == "authPasswordFile" ? "--auth-pass-file" : "--interface";
            error.WriteLine($"nginx-ha-agent: {argument}: {ex.Reason}");
            return 2;
        }
        await using (running)
            await stop.Task;
        log.Write($"vrid {options.VirtualRouterId}: stopped (priority 0 sent, VIPs removed); dropped adverts: {running.Speaker.Drops.Total}");
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
