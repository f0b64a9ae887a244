using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Cli;

/// <summary><c>nginx-ha-agent vrrp ...</c>: one VRRP instance in the foreground until SIGTERM/SIGINT.</summary>
public static class VrrpCommand
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        VrrpCommandOptions options;
        ReadOnlyMemory<byte> authData;
        NetworkInterfaceInfo iface;
        try
        {
            options = VrrpCommandLine.Parse(args);
            authData = options.AuthPassFile is null ? ReadOnlyMemory<byte>.Empty : ReadPasswordFile(options.AuthPassFile);
            iface = ResolveInterface(options.Interface);
        }
        catch (UsageException ex)
        {
            error.WriteLine($"nginx-ha-agent: {ex.Message}");
            return 2;
        }

        var log = new LineLog(output);
        var source = options.Family == AddressFamily.InterNetwork ? iface.PrimaryIPv4 : iface.LinkLocalIPv6;
        if (source is null)
        {
            error.WriteLine($"nginx-ha-agent: --interface: \"{iface.Name}\" has no {(options.Family == AddressFamily.InterNetwork ? "IPv4 address" : "IPv6 link-local address")} to send adverts from");
            return 2;
        }

        var instance = new VrrpInstanceConfig(options.Version, options.VirtualRouterId, options.Priority,
            options.AdvertInterval, source, options.Preempt, options.PreemptDelay);
        var speakerOptions = new VrrpSpeakerOptions($"vrid {options.VirtualRouterId}", instance, options.VirtualAddresses,
            authData, options.GratuitousRepeat, options.GratuitousInterval, options.GratuitousRefresh);

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });

        using var transport = new RawSocketTransport(VrrpSocket.Open(iface, options.Family, options.UnicastPeers));
        using var addresses = new NetlinkVirtualAddressTable(iface.Index);
        using var announcer = new GratuitousAnnouncerAdapter(new GratuitousAnnouncer(iface));
        var speaker = new VrrpSpeaker(speakerOptions, transport, addresses, announcer, TimeProvider.System, log.Write);

        log.Write($"vrid {options.VirtualRouterId}: starting VRRPv{(int)options.Version} on {iface.Name} from {source}, priority {options.Priority}, " +
                  $"advert interval {options.AdvertInterval.TotalMilliseconds}ms, VIPs {string.Join(" ", options.VirtualAddresses)}" +
                  (options.UnicastPeers.Count > 0 ? $", unicast peers {string.Join(" ", options.UnicastPeers)}" : ", multicast"));
        await speaker.RunAsync(stop.Token).ConfigureAwait(false);
        log.Write($"vrid {options.VirtualRouterId}: stopped (priority 0 sent, VIPs removed); dropped adverts: {speaker.Drops.Total}");
        return 0;
    }

    static NetworkInterfaceInfo ResolveInterface(string name)
    {
        try
        {
            return NetworkInterfaces.Get(name);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException($"--interface: {ex.Message.Replace($" (Parameter '{ex.ParamName}')", "")}");
        }
    }

    /// <summary>Reads a VRRPv2 PASS password; refuses a file anyone may read, never prints the secret.</summary>
    internal static ReadOnlyMemory<byte> ReadPasswordFile(string path)
    {
        byte[] bytes;
        try
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
                throw new UsageException($"--auth-pass-file: \"{path}\" is readable by everyone; chmod 600 it");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--auth-pass-file: \"{path}\" cannot be read: {ex.Message}");
        }
        var password = Encoding.UTF8.GetString(bytes).TrimEnd('\r', '\n');
        if (password.Length == 0)
            throw new UsageException($"--auth-pass-file: \"{path}\" is empty");
        return VrrpSimplePassword.ToAuthData(password);
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
