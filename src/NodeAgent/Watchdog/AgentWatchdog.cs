using System.Diagnostics;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Watchdog;

/// <summary>
/// Makes sure an agent that dies (SIGKILL, OOM, crash) does not leave its VIPs bound while the peer takes them
/// over: two hosts would answer ARP for one address. A separate process (<c>nginx-ha-agent watchdog</c>) watches the
/// agent through a pidfd and, the moment it is gone, <see cref="Release"/>s: every address carrying our mark is
/// removed, then each instance that held one sends priority 0, so its backup takes over after Skew_Time instead
/// of Master_Down_Interval. The same release runs as systemd's ExecStopPost (<c>nginx-ha-agent release</c>).
/// </summary>
public static class AgentWatchdog
{
    /// <summary>
    /// Starts the watchdog for this process, in its own session so a signal to the agent's process group does not
    /// reach it; it exits by itself when the agent exits (after a clean stop it finds nothing to release).
    /// </summary>
    public static Process? Spawn(string stateDirectory, Action<string> log)
    {
        try
        {
            return StartProcess(stateDirectory, log);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            log($"warning: watchdog not started ({e.Message}): if this agent is killed, its VIPs stay bound until it restarts or `nginx-ha-agent release` runs");
            return null;
        }
    }

    static Process StartProcess(string stateDirectory, Action<string> log)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's path for the watchdog");
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true };
        start.ArgumentList.Add(self);
        // Framework-dependent (dotnet nginx-ha-agent.dll): the host needs the assembly; NativeAOT is one binary.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        foreach (var a in new[] { "watchdog", "--agent-pid", Environment.ProcessId.ToString(), "--state-dir", stateDirectory })
            start.ArgumentList.Add(a);
        var process = Process.Start(start) ?? throw new InvalidOperationException("the watchdog did not start");
        log($"watchdog: pid {process.Id} releases the VIPs if this agent (pid {Environment.ProcessId}) dies");
        return process;
    }

    /// <summary>Waits for the agent's exit through a pidfd (no polling), then releases; returns the exit code.</summary>
    public static async Task<int> WatchAsync(int agentPid, string stateDirectory, TextWriter output)
    {
        if (!PidExitWatch.TryOpen(agentPid, out var watch, out var reason))
        {
            output.WriteLine($"nginx-ha-agent watchdog: {reason}; releasing now");
            return Release(stateDirectory, output);
        }
        Rehearse(stateDirectory);
        using (watch)
            await watch!.Exited.ConfigureAwait(false);
        var exitedAt = Stopwatch.GetTimestamp();
        var code = Release(stateDirectory, output);
        output.WriteLine($"nginx-ha-agent watchdog: agent pid {agentPid} gone at {DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(exitedAt):HH:mm:ss.ffffff}; released in {Stopwatch.GetElapsedTime(exitedAt).TotalMilliseconds:F1} ms");
        return code;
    }

    /// <summary>
    /// Runs the release path once without acting, so it is compiled before the agent dies: under the JIT, a cold
    /// release took about 300 ms, longer than the peer's take-over, so both hosts answered ARP meanwhile.
    /// </summary>
    static void Rehearse(string stateDirectory)
    {
        try
        {
            var instances = HandoverRecord.Read(stateDirectory, []);
            using (var addresses = new NetlinkAddressManager())
                _ = addresses.List(0).Where(a => a.IsOwned).ToList();
            var advert = new VrrpAdvertisement(VrrpVersion.V3, 1, 0, TimeSpan.FromSeconds(1), [System.Net.IPAddress.Loopback]);
            var buffer = new byte[VrrpPacket.GetEncodedLength(advert)];
            VrrpPacket.Write(buffer, advert, System.Net.IPAddress.Loopback, System.Net.IPAddress.Loopback);
            foreach (var instance in instances.DistinctBy(i => (i.Interface, i.VirtualAddresses[0].Address.AddressFamily)))
            {
                var iface = NetworkInterfaces.Get(instance.Interface);
                using var socket = VrrpSocket.Open(iface, instance.VirtualAddresses[0].Address.AddressFamily, instance.UnicastPeers);
            }
        }
        catch (Exception e) when (e is NetlinkException or IOException or InvalidDataException or ArgumentException or SocketException)
        {
            // Only a warm-up: the real release reports its own problems.
        }
    }

    /// <summary>
    /// Removes every address carrying our mark (never another one), then sends priority 0 for each recorded instance
    /// that held any of them. Returns 0, or 1 when something could not be done (each problem is printed).
    /// </summary>
    public static int Release(string stateDirectory, TextWriter output)
    {
        var problems = new List<string>();
        var instances = HandoverRecord.Read(stateDirectory, problems);
        IReadOnlyList<InterfaceAddress> removed = [];
        try
        {
            using var addresses = new NetlinkAddressManager();
            removed = addresses.RemoveOwned(0);
        }
        catch (Exception e) when (e is NetlinkException or IOException or InvalidDataException)
        {
            problems.Add($"removing the marked addresses: {e.Message}");
        }
        foreach (var address in removed)
            output.WriteLine($"nginx-ha-agent watchdog: removed {address.Address}/{address.PrefixLength} (interface {address.InterfaceIndex})");

        var held = removed.Select(a => a.Address).ToHashSet();
        foreach (var instance in instances.Where(i => i.VirtualAddresses.Any(v => held.Contains(v.Address))))
        {
            try
            {
                SendPriorityZero(instance);
                output.WriteLine($"nginx-ha-agent watchdog: {instance.Name}: sent priority 0 (vrid {instance.VirtualRouterId} on {instance.Interface})");
            }
            catch (Exception e) when (e is SocketException or ArgumentException or IOException or SecretFileException or NetlinkException)
            {
                problems.Add($"{instance.Name}: priority 0 not sent: {e.Message}");
            }
        }
        foreach (var p in problems) output.WriteLine($"nginx-ha-agent watchdog: {p}");
        return problems.Count == 0 ? 0 : 1;
    }

    static void SendPriorityZero(HandoverInstance instance)
    {
        var iface = NetworkInterfaces.Get(instance.Interface);
        var family = instance.VirtualAddresses[0].Address.AddressFamily;
        using var socket = VrrpSocket.Open(iface, family, instance.UnicastPeers);
        var auth = instance.AuthData;
        var advert = new VrrpAdvertisement(instance.Version, instance.VirtualRouterId, 0, instance.AdvertInterval,
            instance.VirtualAddresses.Select(v => v.Address).ToArray(),
            auth.IsEmpty ? VrrpAuthType.None : VrrpAuthType.SimpleText, auth);
        var buffer = new byte[VrrpPacket.GetEncodedLength(advert)];
        foreach (var destination in socket.Destinations)
        {
            var length = VrrpPacket.Write(buffer, advert, socket.SourceAddress, destination);
            socket.SendAsync(buffer.AsMemory(0, length), destination, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
    }
}
