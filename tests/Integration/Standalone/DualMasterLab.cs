using System.Net;
using System.Net.Sockets;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// Seed 000 on a private bridge: lb1 and lb2 run <c>nginx-ha-agent run</c> on one shared manifest file (two VIPs,
/// ActiveActive, VRRPv3 at 100 ms), web1 and web2 run real nginx backends, and the client probes both VIPs
/// continuously from the start. Nodes are the lab's n0..n4 (198.18.0.1..5); the VIPs are 198.18.0.201 and .202.
/// lb1 is the preferred master of VIP 1 and lb2 of VIP 2 (node i masters VIP i mod n).
/// </summary>
public sealed class DualMasterLab : IDisposable
{
    public static readonly IPAddress Vip1 = IPAddress.Parse("198.18.0.201");
    public static readonly IPAddress Vip2 = IPAddress.Parse("198.18.0.202");
    static readonly string[] VirtualIPs = [$"{Vip1}/24", $"{Vip2}/24"];

    readonly NetworkLab _network;
    readonly List<IDisposable> _owned = [];
    readonly string _workDirectory;

    readonly string? _vrrp;

    /// <param name="vrrpAuthPassword">Run VRRPv2 with PASS authentication and this password (from a 0600 file) instead of v3.</param>
    public DualMasterLab(string prefix, string? vrrpAuthPassword = null)
    {
        RequiredTool.Locate("nginx", "nginx");
        _workDirectory = Directory.CreateTempSubdirectory($"{prefix}-seed000-").FullName;
        // Like /run: nginx workers (an unprivileged user) must reach the state directories below it.
        File.SetUnixFileMode(_workDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _network = NetworkLab.Create(prefix, 5);
        try
        {
            Web1 = _network.Nodes[2];
            Web2 = _network.Nodes[3];
            Client = _network.Nodes[4];
            ManifestPath = Path.Combine(_workDirectory, "seed-000.yaml");
            if (vrrpAuthPassword is not null)
            {
                var passwordFile = Path.Combine(_workDirectory, "vrrp-password");
                File.WriteAllText(passwordFile, vrrpAuthPassword);
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                _vrrp = SeedManifest.V2PassVrrp(passwordFile);
            }
            Lb1 = Own(new StandaloneNode("lb1", _network.Nodes[0], ManifestPath, Path.Combine(_workDirectory, "lb1")));
            Lb2 = Own(new StandaloneNode("lb2", _network.Nodes[1], ManifestPath, Path.Combine(_workDirectory, "lb2")));
            BackendServers.Start(Web1, "web1", _workDirectory);
            BackendServers.Start(Web2, "web2", _workDirectory);
            WriteManifest(BothWebServers);
            Probe1 = Own(new VipProbe(Client, Vip1, SeedManifest.ListenPort));
            Probe2 = Own(new VipProbe(Client, Vip2, SeedManifest.ListenPort));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public StandaloneNode Lb1 { get; }
    public StandaloneNode Lb2 { get; }
    public LabNode Web1 { get; }
    public LabNode Web2 { get; }
    public LabNode Client { get; }
    public VipProbe Probe1 { get; }
    public VipProbe Probe2 { get; }
    public string ManifestPath { get; }
    public IReadOnlyList<StandaloneNode> Balancers => [Lb1, Lb2];
    public IReadOnlyList<VipProbe> Probes => [Probe1, Probe2];

    public PoolServer Web1Server => new(Web1.IPv4.ToString(), BackendServers.Port);
    public PoolServer Web2Server => new(Web2.IPv4.ToString(), BackendServers.Port);
    public PoolServer[] BothWebServers => [Web1Server, Web2Server];

    /// <summary>The node that should master <paramref name="probe"/>'s VIP when both are healthy.</summary>
    public StandaloneNode PreferredMasterOf(VipProbe probe) => probe == Probe1 ? Lb1 : Lb2;

    public StandaloneNode BalancerAt(IPAddress? via) => Balancers.Single(b => b.Address.Equals(via));

    /// <summary>A probe answer as "via lb1" or its failure: for failover, which backend answered does not matter.</summary>
    public string ByBalancer(ProbeSample sample) => sample.Ok ? $"via {BalancerAt(sample.Via).Name}" : sample.Failure!;

    public void WriteManifest(IReadOnlyList<PoolServer> servers) =>
        SeedManifest.WriteAtomically(ManifestPath, SeedManifest.Render(
            Balancers.Select(b => (b.Name, b.Address.ToString())).ToArray(), VirtualIPs, servers, _vrrp));

    /// <summary>Starts both agents and waits until each VIP is served by its preferred master.</summary>
    public async Task StartAsync()
    {
        await WaitForBackendsAsync();
        var since = DateTimeOffset.UtcNow;
        Lb1.Start();
        Lb2.Start();
        await WaitForPreferredMastersAsync(since, TimeSpan.FromSeconds(30));
    }

    /// <summary>Both VIPs answer through their preferred masters after <paramref name="since"/>, each bound on one node only.</summary>
    public async Task WaitForPreferredMastersAsync(DateTimeOffset since, TimeSpan timeout)
    {
        try
        {
            foreach (var probe in Probes)
            {
                var master = PreferredMasterOf(probe);
                await probe.WaitForAsync(s => s.Ok && master.Address.Equals(s.Via), since, timeout, $"served through {master.Name}", ByBalancer);
                await Eventually.Until(() => Balancers.Where(b => b.Holds(probe.Vip)).Select(b => b.Name).ToArray(),
                    holders => holders.SequenceEqual([master.Name]), TimeSpan.FromSeconds(3), $"{probe.Vip} bound on {master.Name} only");
            }
        }
        catch (TimeoutException e)
        {
            // Which MAC the client sends each VIP to tells a missing gratuitous ARP from a missing master.
            string neighbours = Client.TryExec("ip", "neigh", "show", "dev", Client.InterfaceName).StandardOutput.Trim();
            string macs = string.Join(", ", Balancers.Select(b => $"{b.Name} {NetworkLab.FormatMac(b.Node.Mac)}"));
            string bound = string.Join(", ", Balancers.Select(b => $"{b.Name} holds [{string.Join(" ", new[] { Vip1, Vip2 }.Where(b.Holds))}]"));
            throw new TimeoutException($"{e.Message}\n{bound}\nclient neighbours ({macs}):\n{neighbours}\n{AgentOutput}", e);
        }
    }

    public string AgentOutput => string.Join("\n", Balancers.Select(b => $"=== {b.Name} ===\n{b.Output}"));

    /// <summary>Starts wrk (one thread) in the client namespace against a VIP; parse its output with <see cref="WrkReport"/>.</summary>
    public ChildProcess StartWrk(IPAddress vip, TimeSpan duration, int connections, bool keepAlive)
    {
        string wrk = RequiredTool.Locate("wrk", "wrk");
        string[] close = keepAlive ? [] : ["-H", "Connection: close"];
        var process = new ChildProcess("ip", ["netns", "exec", Client.Namespace, wrk, "-t1", $"-c{connections}",
            $"-d{(int)duration.TotalSeconds}s", .. close, $"http://{vip}:{SeedManifest.ListenPort}/"], $"wrk {vip}");
        _owned.Add(process);
        return process;
    }

    Task WaitForBackendsAsync() => BackendServers.WaitUntilServingAsync(Client, Web1, Web2);

    T Own<T>(T owned) where T : IDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    public void Dispose()
    {
        var failures = new List<Exception>();
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            try { _owned[i].Dispose(); }
            catch (Exception e) { failures.Add(e); }
        }
        try { _network?.Dispose(); }
        catch (Exception e) { failures.Add(e); }
        try { Directory.Delete(_workDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { failures.Add(e); }
        if (failures.Count > 0) throw new AggregateException("seed 000 lab cleanup failed", failures);
    }
}
