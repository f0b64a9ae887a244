using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Cli;

/// <summary>Options of <c>nginx-ha-agent vrrp</c>: one VRRP instance in the foreground.</summary>
public sealed record VrrpCommandOptions(
    string Interface,
    byte VirtualRouterId,
    byte Priority,
    IReadOnlyList<VirtualIp> VirtualAddresses,
    VrrpVersion Version,
    TimeSpan AdvertInterval,
    string? AuthPassFile,
    bool Preempt,
    TimeSpan PreemptDelay,
    IReadOnlyList<IPAddress> UnicastPeers,
    int GratuitousRepeat,
    TimeSpan GratuitousInterval,
    TimeSpan GratuitousRefresh)
{
    public AddressFamily Family => VirtualAddresses[0].Address.AddressFamily;

    /// <summary>Where /metrics, /healthz and /readyz are served; null: not served.</summary>
    public IPEndPoint? MetricsAddress { get; init; }

    public LogFormat LogFormat { get; init; }
}

/// <summary>Thrown for a bad argument; the message names the argument and is printed as one line.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Parses the <c>vrrp</c> command's arguments. Pure: the auth file is only named here, read later.</summary>
public static class VrrpCommandLine
{
    public const string Usage =
        "usage: nginx-ha-agent vrrp --interface IF --vrid N --priority P --vip ADDR/PREFIX [--vip ...] " +
        "[--version 2|3] [--advert-interval 1s|100ms] [--auth-pass-file FILE] [--no-preempt] [--preempt-delay 0s] " +
        "[--unicast-peer ADDR ...] [--garp-repeat 5] [--garp-interval 10ms] [--garp-refresh 0s] " + ObservabilityArguments.Usage;

    public static VrrpCommandOptions Parse(IReadOnlyList<string> args)
    {
        string? iface = null, authFile = null;
        byte? vrid = null, priority = null;
        var vips = new List<VirtualIp>();
        var peers = new List<IPAddress>();
        var version = VrrpVersion.V3;
        var advertInterval = TimeSpan.FromSeconds(1);
        var preempt = true;
        var preemptDelay = TimeSpan.Zero;
        int garpRepeat = 5;
        var garpInterval = TimeSpan.FromMilliseconds(10);
        var garpRefresh = TimeSpan.Zero;
        IPEndPoint? metricsAddress = null;
        var logFormat = LogFormat.Text;

        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException($"{name}: a value is required");
                return args[++i];
            }

            switch (name)
            {
                case "--interface": iface = Value(); break;
                case "--vrid": vrid = ParseByte(name, Value(), 1); break;
                case "--priority": priority = ParseByte(name, Value(), 1); break;
                case "--vip": vips.Add(ParseNetwork(name, Value())); break;
                case "--version":
                    version = Value() switch
                    {
                        "2" => VrrpVersion.V2,
                        "3" => VrrpVersion.V3,
                        var v => throw new UsageException($"{name}: \"{v}\" must be 2 or 3"),
                    };
                    break;
                case "--advert-interval": advertInterval = ParseDuration(name, Value()); break;
                case "--auth-pass-file": authFile = Value(); break;
                case "--no-preempt": preempt = false; break;
                case "--preempt-delay": preemptDelay = ParseDuration(name, Value(), allowZero: true); break;
                case "--unicast-peer":
                    peers.Add(ParseAddress(name, Value()));
                    while (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                        peers.Add(ParseAddress(name, args[++i]));
                    break;
                case "--garp-repeat":
                    garpRepeat = ParseInt(name, Value(), 1, 100);
                    break;
                case "--garp-interval": garpInterval = ParseDuration(name, Value(), allowZero: true); break;
                case "--garp-refresh": garpRefresh = ParseDuration(name, Value(), allowZero: true); break;
                case "--metrics-address": metricsAddress = ObservabilityArguments.ParseMetricsAddress(name, Value()); break;
                case "--log-format": logFormat = ObservabilityArguments.ParseLogFormat(name, Value()); break;
                default: throw new UsageException($"{name}: unknown argument");
            }
        }

        if (iface is null) throw new UsageException("--interface: required");
        if (vrid is null) throw new UsageException("--vrid: required");
        if (priority is null) throw new UsageException("--priority: required");
        if (vips.Count == 0) throw new UsageException("--vip: at least one virtual address is required");
        if (vips.Count > InstancePlan.MaxAddresses)
            throw new UsageException($"--vip: {vips.Count} addresses given, but one VRRP advert carries at most {InstancePlan.MaxAddresses}");

        var family = vips[0].Address.AddressFamily;
        var mixed = vips.FirstOrDefault(v => v.Address.AddressFamily != family);
        if (mixed.Address is not null)
            throw new UsageException($"--vip: \"{mixed}\" mixes IPv4 and IPv6 in one instance (run one instance per family)");
        var duplicate = vips.GroupBy(v => v.Address).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new UsageException($"--vip: \"{duplicate.Key}\" is given twice");
        var wrongPeer = peers.FirstOrDefault(p => p.AddressFamily != family);
        if (wrongPeer is not null)
            throw new UsageException($"--unicast-peer: \"{wrongPeer}\" is not of the virtual addresses' family");

        // An IPv6 advert lists a link-local address first (RFC 5798 section 5.2.9): added when none is given.
        var carried = VirtualRouterLinkLocal.Complete(vips, vrid.Value, unicast: peers.Count > 0);
        if (carried.Count > InstancePlan.MaxAddresses)
            throw new UsageException($"--vip: {vips.Count} addresses given and the link-local {VirtualRouterLinkLocal.For(vrid.Value)} added " +
                                     $"(RFC 5798 section 5.2.9), but one VRRP advert carries at most {InstancePlan.MaxAddresses}");

        if (version == VrrpVersion.V2)
        {
            if (family != AddressFamily.InterNetwork)
                throw new UsageException("--version: VRRP version 2 supports IPv4 only");
            if (advertInterval.Ticks % TimeSpan.TicksPerSecond != 0 || advertInterval > TimeSpan.FromSeconds(255))
                throw new UsageException($"--advert-interval: \"{Format(advertInterval)}\" must be whole seconds from 1s to 255s for VRRP version 2");
        }
        else
        {
            if (advertInterval.Ticks % (TimeSpan.TicksPerMillisecond * 10) != 0 || advertInterval > TimeSpan.FromMilliseconds(40950))
                throw new UsageException($"--advert-interval: \"{Format(advertInterval)}\" must be a multiple of 10ms up to 40.95s for VRRP version 3");
            if (authFile is not null)
                throw new UsageException("--auth-pass-file: authentication exists only in VRRP version 2 (add --version 2)");
        }

        return new VrrpCommandOptions(iface, vrid.Value, priority.Value, carried, version, advertInterval, authFile,
            preempt, preemptDelay, peers, garpRepeat, garpInterval, garpRefresh)
        {
            MetricsAddress = metricsAddress,
            LogFormat = logFormat,
        };
    }

    static string Format(TimeSpan t) => t.TotalMilliseconds % 1000 == 0 ? $"{t.TotalSeconds}s" : $"{t.TotalMilliseconds}ms";

    static TimeSpan ParseDuration(string name, string text, bool allowZero = false)
    {
        // The same duration syntax as the manifests ("100ms", "1s", "1m30s").
        if (!Duration.TryParse(text, out var value, out _) || (!allowZero && value == TimeSpan.Zero))
            throw new UsageException($"{name}: \"{text}\" is not a duration like 100ms or 1s{(allowZero ? "" : " (above zero)")}");
        return value;
    }

    static byte ParseByte(string name, string text, int min) => (byte)ParseInt(name, text, min, 255);

    static int ParseInt(string name, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
            throw new UsageException($"{name}: \"{text}\" is not a number from {min} to {max}");
        return n;
    }

    static IPAddress ParseAddress(string name, string text)
    {
        if (!IPAddress.TryParse(text, out var address) || text.Contains('/'))
            throw new UsageException($"{name}: \"{text}\" is not an IP address");
        return address;
    }

    static VirtualIp ParseNetwork(string name, string text)
    {
        string addressPart = text, prefixPart = "";
        int slash = text.IndexOf('/');
        if (slash >= 0) (addressPart, prefixPart) = (text[..slash], text[(slash + 1)..]);
        if (!IPAddress.TryParse(addressPart, out var address) || addressPart.Contains(':') != (address.AddressFamily == AddressFamily.InterNetworkV6))
            throw new UsageException($"{name}: \"{text}\" is not an IP address with an optional /prefix");
        if (address.IsIPv4MappedToIPv6) throw new UsageException($"{name}: \"{text}\" is an IPv4-mapped address; give the IPv4 form");
        int maxPrefix = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = maxPrefix;
        if (slash >= 0 && (!int.TryParse(prefixPart, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > maxPrefix))
            throw new UsageException($"{name}: \"{text}\" has a prefix length outside 0..{maxPrefix}");
        if (name == "--vip" && VirtualIp.SubnetReservedReason(address, prefix) is { } reserved)
            throw new UsageException($"{name}: \"{text}\" {reserved}");
        return new VirtualIp(address, prefix);
    }
}
