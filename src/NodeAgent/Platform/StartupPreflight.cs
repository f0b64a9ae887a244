using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// The host checks made before the agent starts anything: each failure is one line naming the cause and the fix, so
/// the agent exits 1 with nothing bound, instead of a stack trace after nginx or a socket already started.
/// </summary>
public static class StartupPreflight
{
    const int CapNetAdmin = 12, CapNetRaw = 13;

    /// <summary>CAP_NET_ADMIN (netlink: VIPs) and CAP_NET_RAW (the VRRP socket, gratuitous ARP) in the effective set.</summary>
    public static IReadOnlyList<string> Capabilities(string statusFile = "/proc/self/status")
    {
        ulong effective;
        try
        {
            var line = File.ReadLines(statusFile).FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            if (line is null || !ulong.TryParse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out effective))
                return []; // no capability set to read: the sockets' own errors will tell
        }
        catch (IOException)
        {
            return [];
        }
        var missing = new List<string>();
        foreach (var (bit, name, use) in new[] { (CapNetRaw, "CAP_NET_RAW", "the raw VRRP socket and gratuitous ARP"),
                     (CapNetAdmin, "CAP_NET_ADMIN", "adding and removing the VIPs") })
        {
            if ((effective & (1UL << bit)) == 0)
                missing.Add($"missing capability {name} (needed for {use}): run as root, or grant it " +
                            $"(systemd: AmbientCapabilities={name}; container: capabilities add {name["CAP_".Length..]})");
        }
        return missing;
    }

    /// <summary>The interface exists and has the address adverts are sent from. Carrier is a warning, not a failure.</summary>
    public static string? Interface(string name, AddressFamily family, string setting)
    {
        NetworkInterfaceInfo info;
        try
        {
            info = NetworkInterfaces.Get(name);
        }
        catch (ArgumentException ex)
        {
            var known = string.Join(", ", NetworkInterface.GetAllNetworkInterfaces().Select(n => n.Name).Order(StringComparer.Ordinal));
            return $"{setting}: {ex.Message.Replace($" (Parameter '{ex.ParamName}')", "")}; " +
                   $"name one of this host's interfaces ({known})";
        }
        var source = family == AddressFamily.InterNetwork ? info.PrimaryIPv4 : info.LinkLocalIPv6;
        if (source is null)
            return $"{setting}: \"{name}\" has no {(family == AddressFamily.InterNetwork ? "IPv4 address" : "IPv6 link-local address")} " +
                   "to send adverts from: add one to the interface, or name another interface";
        return null;
    }

    /// <summary>A warning line when the interface has no carrier (the instance then waits in FAULT for the link).</summary>
    public static string? Carrier(string name)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == name);
        if (nic is null || nic.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown) return null;
        return $"interface \"{name}\" has no carrier (state {nic.OperationalStatus.ToString().ToLowerInvariant()}): its VRRP instances stay " +
               $"in FAULT until the link is up (check the cable or switch port, or `ip link set {name} up`)";
    }

    public static string? NginxBinary(string path)
    {
        if (!File.Exists(path))
            return $"nginx binary {path} not found: install nginx (apt-get install nginx) or give its path with --nginx";
        const UnixFileMode Executable = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if ((File.GetUnixFileMode(path) & Executable) == 0)
            return $"nginx binary {path} is not executable: chmod +x it or give another path with --nginx";
        return null;
    }

    /// <summary>
    /// A TCP port nginx will listen on is free on <paramref name="address"/>: a trial bind and listen, released at once.
    /// </summary>
    public static string? TcpPortFree(IPAddress address, int port, string usedFor, string fix)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // As nginx binds: SO_REUSEADDR, so sockets in TIME_WAIT do not count as in use.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(1);
            return null;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return $"port {port} ({usedFor}) is in use by another process (`ss -ltnp 'sport = :{port}'` shows which): stop it, or {fix}";
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AccessDenied)
        {
            return $"port {port} ({usedFor}) cannot be bound: {ex.Message}; run as root or grant CAP_NET_BIND_SERVICE";
        }
    }

    /// <summary>The state dir can be created and written (a trial file, removed again).</summary>
    public static string? WritableDirectory(string directory, string setting)
    {
        var probe = Path.Combine(directory, $".write-test-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            File.WriteAllBytes(probe, [0]);
            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"state directory {directory} is not writable ({ex.Message}): give a writable directory with {setting} " +
                   "(default /run/nginx-ha/NODE)";
        }
    }

    /// <summary>
    /// Opening the sockets failed for a reason of the host: one line. A missing capability is told as one (the kernel
    /// says only "permission denied").
    /// </summary>
    public static string Describe(Exception ex, string instance) => ex switch
    {
        SocketException { SocketErrorCode: SocketError.AccessDenied } or NetlinkException { Errno: 1 or 13 } =>
            $"{instance}: the sockets could not be opened ({ex.Message}): the agent needs CAP_NET_RAW and CAP_NET_ADMIN; run as root or grant them",
        _ => $"{instance}: the sockets could not be opened: {ex.Message}",
    };
}
