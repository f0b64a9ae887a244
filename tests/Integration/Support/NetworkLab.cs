using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// A throw-away L2 segment: N node namespaces, each with one veth "eth0" plugged into a bridge that
/// lives in a namespace of its own, so nothing touches the host's interfaces and no route leads out.
/// Node i (0-based) gets 198.18.0.(i+1)/24, fd00::(i+1)/64 and MAC 02:00:c6:12:00:(i+1); IPv6 DAD is
/// off so addresses are usable at once; the bridge floods multicast (no snooping). Dispose ends the
/// processes started through the lab (by PID) and deletes every namespace, which removes the links.
/// Names are "{prefix}-{id}-n{i}" and "{prefix}-br-{id}"; give each test suite its own prefix.
/// </summary>
public sealed class NetworkLab : IDisposable
{
    public const string InterfaceName = "eth0";
    public const int IPv4PrefixLength = 24;
    public const int IPv6PrefixLength = 64;
    private const string BridgeName = "br0";

    private readonly List<string> _namespaces = [];
    private readonly List<ChildProcess> _processes = [];
    private readonly Lock _gate = new();
    private bool _disposed;

    private NetworkLab(string prefix)
    {
        Id = Guid.NewGuid().ToString("N")[..6];
        Prefix = prefix;
        BridgeNamespace = $"{prefix}-br-{Id}";
    }

    public string Id { get; }
    public string Prefix { get; }
    public string BridgeNamespace { get; }
    public IReadOnlyList<LabNode> Nodes { get; private set; } = [];

    /// <summary>Builds the segment; on any failure what was built so far is removed before the exception leaves.</summary>
    public static NetworkLab Create(string prefix, int nodeCount)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nodeCount, 200);
        var lab = new NetworkLab(prefix);
        try
        {
            lab.Build(nodeCount);
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    private void Build(int nodeCount)
    {
        AddNamespace(BridgeNamespace);
        // The bridge namespace stays silent: no IPv6 on its ports, so captures see only the nodes' traffic.
        Command.Run("ip", "netns", "exec", BridgeNamespace, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1");
        Command.Run("ip", "-n", BridgeNamespace, "link", "add", BridgeName, "type", "bridge", "mcast_snooping", "0");
        Command.Run("ip", "-n", BridgeNamespace, "link", "set", BridgeName, "up");

        var nodes = new List<LabNode>();
        for (int i = 0; i < nodeCount; i++)
        {
            string name = $"{Prefix}-{Id}-n{i}";
            AddNamespace(name);
            Command.Run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0");
            string port = $"p{i}";
            Command.Run("ip", "-n", BridgeNamespace, "link", "add", port, "type", "veth", "peer", "name", InterfaceName, "netns", name);
            Command.Run("ip", "-n", BridgeNamespace, "link", "set", port, "master", BridgeName, "up");

            var mac = new PhysicalAddress([0x02, 0x00, 0xc6, 0x12, 0x00, (byte)(i + 1)]);
            var ipv4 = IPAddress.Parse($"198.18.0.{i + 1}");
            var ipv6 = IPAddress.Parse($"fd00::{i + 1:x}");
            Command.Run("ip", "-n", name, "link", "set", "lo", "up");
            Command.Run("ip", "-n", name, "link", "set", InterfaceName, "address", FormatMac(mac), "up");
            Command.Run("ip", "-n", name, "addr", "add", $"{ipv4}/{IPv4PrefixLength}", "dev", InterfaceName);
            Command.Run("ip", "-n", name, "addr", "add", $"{ipv6}/{IPv6PrefixLength}", "dev", InterfaceName, "nodad");
            nodes.Add(new LabNode(this, name, InterfaceName, mac, ipv4, ipv6));
        }
        Nodes = nodes;
        foreach (var node in nodes)
            WaitForLinkLocal(node);
    }

    /// <summary>
    /// The kernel assigns the IPv6 link-local address only once the carrier is up, which the link
    /// watcher reports asynchronously (up to a second later): wait so tests start on a ready segment.
    /// </summary>
    private static void WaitForLinkLocal(LabNode node)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            string output = node.Exec("ip", "-o", "-6", "addr", "show", "dev", InterfaceName, "scope", "link").StandardOutput;
            if (output.Contains("fe80::", StringComparison.Ordinal) && !output.Contains("tentative", StringComparison.Ordinal))
                return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{node.Namespace}: {InterfaceName} got no IPv6 link-local address within 10 s");
            Thread.Sleep(20);
        }
    }

    private void AddNamespace(string name)
    {
        Command.Run("ip", "netns", "add", name);
        _namespaces.Add(name);
    }

    /// <summary>MAC in the colon form iproute2 prints and accepts.</summary>
    public static string FormatMac(PhysicalAddress mac) =>
        string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2")));

    /// <summary>Starts a long-running process in a namespace; the lab kills it by PID on Dispose if it is still running.</summary>
    internal ChildProcess StartProcess(string namespaceName, string[] arguments)
    {
        var process = new ChildProcess("ip", ["netns", "exec", namespaceName, .. arguments], string.Join(' ', arguments));
        lock (_gate)
            _processes.Add(process);
        return process;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        var failures = new List<string>();
        foreach (var process in _processes)
        {
            try { process.Dispose(); }
            catch (Exception e) { failures.Add($"stopping `{process.Name}`: {e.Message}"); }
        }
        foreach (string name in Enumerable.Reverse(_namespaces))
        {
            var result = Command.TryRun("ip", "netns", "del", name);
            if (result.ExitCode != 0)
                failures.Add($"deleting namespace {name}: {result.StandardError.Trim()}");
        }
        if (failures.Count > 0)
            throw new InvalidOperationException("network lab cleanup failed: " + string.Join("; ", failures));
    }
}

/// <summary>One namespace of a <see cref="NetworkLab"/> with its interface and addresses.</summary>
public sealed class LabNode(NetworkLab lab, string namespaceName, string interfaceName, PhysicalAddress mac, IPAddress ipv4, IPAddress ipv6)
{
    public NetworkLab Lab { get; } = lab;
    public string Namespace { get; } = namespaceName;
    public string InterfaceName { get; } = interfaceName;
    public PhysicalAddress Mac { get; } = mac;
    public IPAddress IPv4 { get; } = ipv4;
    public IPAddress IPv6 { get; } = ipv6;

    /// <summary>Runs <paramref name="action"/> on a fresh thread inside this namespace (see <see cref="NetworkNamespace"/>).</summary>
    public T Run<T>(Func<T> action) => NetworkNamespace.Run(Namespace, action);

    public void Run(Action action) => NetworkNamespace.Run(Namespace, action);

    /// <summary>`ip netns exec NS args...`; throws on a non-zero exit.</summary>
    public CommandResult Exec(params string[] arguments) => Command.Run(["ip", "netns", "exec", Namespace, .. arguments]);

    /// <summary>`ip netns exec NS args...`; returns the exit code instead of throwing.</summary>
    public CommandResult TryExec(params string[] arguments) => Command.TryRun(["ip", "netns", "exec", Namespace, .. arguments]);

    /// <summary>Starts a long-running process here; stop it with Dispose (by PID), or let the lab do it.</summary>
    public ChildProcess Start(params string[] arguments) => Lab.StartProcess(Namespace, arguments);

    public override string ToString() => $"{Namespace} ({IPv4}, {IPv6})";
}
