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
public sealed class DualMasterLab : DualMasterLabBase<StandaloneNode>
{
    static readonly string[] VirtualIPs = [$"{Vip1}/24", $"{Vip2}/24"];

    readonly string? _vrrp;

    /// <param name="vrrpAuthPassword">Run VRRPv2 with PASS authentication and this password (from a 0600 file) instead of v3.</param>
    /// <param name="vrrp">The group's VRRP settings (YAML flow mapping) instead of the seed's; not with a password.</param>
    public DualMasterLab(string prefix, string? vrrpAuthPassword = null, string? vrrp = null)
        : base(prefix, "seed000", (lab, name, node) => new StandaloneNode(name, node, ManifestIn(lab.WorkDirectory), Path.Combine(lab.WorkDirectory, name)))
    {
        try
        {
            _vrrp = vrrp;
            if (vrrpAuthPassword is not null)
            {
                var passwordFile = Path.Combine(WorkDirectory, "vrrp-password");
                File.WriteAllText(passwordFile, vrrpAuthPassword);
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                _vrrp = SeedManifest.V2PassVrrp(passwordFile);
            }
            WriteManifest(BothWebServers);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    static string ManifestIn(string workDirectory) => Path.Combine(workDirectory, "seed-000.yaml");

    public string ManifestPath => ManifestIn(WorkDirectory);

    public PoolServer Web1Server => new(Web1.IPv4.ToString(), BackendServers.Port);
    public PoolServer Web2Server => new(Web2.IPv4.ToString(), BackendServers.Port);
    public PoolServer[] BothWebServers => [Web1Server, Web2Server];

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

    /// <summary>Which MAC the client sends each VIP to tells a missing gratuitous ARP from a missing master.</summary>
    protected override string FailureDetails()
    {
        string neighbours = Client.TryExec("ip", "neigh", "show", "dev", Client.InterfaceName).StandardOutput.Trim();
        string macs = string.Join(", ", Balancers.Select(b => $"{b.Name} {NetworkLab.FormatMac(b.Node.Mac)}"));
        string bound = string.Join(", ", Balancers.Select(b => $"{b.Name} holds [{string.Join(" ", new[] { Vip1, Vip2 }.Where(b.Holds))}]"));
        return $"{bound}\nclient neighbours ({macs}):\n{neighbours}\n{AgentOutput}";
    }

    public string AgentOutput => string.Join("\n", Balancers.Select(b => $"=== {b.Name} ===\n{b.Output}"));

    /// <summary>Starts wrk (one thread) in the client namespace against a VIP; parse its output with <see cref="WrkReport"/>.</summary>
    public ChildProcess StartWrk(IPAddress vip, TimeSpan duration, int connections, bool keepAlive)
    {
        string wrk = RequiredTool.Locate("wrk", "wrk");
        string[] close = keepAlive ? [] : ["-H", "Connection: close"];
        var process = new ChildProcess("ip", ["netns", "exec", Client.Namespace, wrk, "-t1", $"-c{connections}",
            $"-d{(int)duration.TotalSeconds}s", .. close, $"http://{vip}:{SeedManifest.ListenPort}/"], $"wrk {vip}");
        return Own(process);
    }
}
