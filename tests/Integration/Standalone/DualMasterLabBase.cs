using System.Net;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// Seed 000's lab, however its agents get their config (<see cref="DualMasterLab"/>: a manifest file; the cluster lab:
/// NodeHaConfigs): a work directory nginx workers can reach, a private bridge of five nodes (lb1 198.18.0.1 and lb2 .2 run
/// the agents, web1 .3 and web2 .4 real nginx backends, the client .5 probes both VIPs from the start), and the cleanup:
/// what <see cref="Own"/> took, newest first, then the namespaces, then the directory. VIP i prefers lbi as its master.
/// </summary>
public abstract class DualMasterLabBase<TNode> : IDisposable where TNode : AgentNode
{
    public static readonly IPAddress Vip1 = IPAddress.Parse("198.18.0.201");
    public static readonly IPAddress Vip2 = IPAddress.Parse("198.18.0.202");

    readonly NetworkLab? _network;
    readonly DisposableBag _owned = new();
    readonly string _description;

    /// <param name="balancer">Makes the agent node NAME on its lab node (called for lb1 and lb2 once the work directory exists).</param>
    /// <param name="probeTimeout">The probes' connect and read timeouts: default the gap meter's (100 ms, 300 ms); a story
    /// that judges lost requests rather than gaps passes a patient client's seconds (see <see cref="VipProbe"/>).</param>
    protected DualMasterLabBase(string prefix, string description, Func<DualMasterLabBase<TNode>, string, LabNode, TNode> balancer,
        TimeSpan? probeTimeout = null)
    {
        _description = description;
        RequiredTool.Locate("nginx", "nginx");
        WorkDirectory = DisposableBag.CreateReachableDirectory($"{prefix}-{description}-");
        try
        {
            _network = NetworkLab.Create(prefix, 5);
            Lb1 = Own(balancer(this, "lb1", _network.Nodes[0]));
            Lb2 = Own(balancer(this, "lb2", _network.Nodes[1]));
            Web1 = _network.Nodes[2];
            Web2 = _network.Nodes[3];
            Client = _network.Nodes[4];
            BackendServers.Start(Web1, "web1", WorkDirectory);
            BackendServers.Start(Web2, "web2", WorkDirectory);
            Probe1 = Own(new VipProbe(Client, Vip1, SeedManifest.ListenPort, probeTimeout, probeTimeout));
            Probe2 = Own(new VipProbe(Client, Vip2, SeedManifest.ListenPort, probeTimeout, probeTimeout));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string WorkDirectory { get; }
    public TNode Lb1 { get; }
    public TNode Lb2 { get; }
    public LabNode Web1 { get; }
    public LabNode Web2 { get; }
    public LabNode Client { get; }
    public VipProbe Probe1 { get; }
    public VipProbe Probe2 { get; }
    public IReadOnlyList<TNode> Balancers => [Lb1, Lb2];
    public IReadOnlyList<VipProbe> Probes => [Probe1, Probe2];

    /// <summary>The node whose agent should master <paramref name="probe"/>'s VIP when both are healthy.</summary>
    public TNode PreferredMasterOf(VipProbe probe) => probe == Probe1 ? Lb1 : Lb2;

    public TNode BalancerAt(IPAddress? via) => Balancers.Single(b => b.Address.Equals(via));

    /// <summary>A probe answer as "via lb1" or its failure: for failover, which backend answered does not matter.</summary>
    public string ByBalancer(ProbeSample sample) => sample.Ok ? $"via {BalancerAt(sample.Via).Name}" : sample.Failure!;

    public Task WaitForBackendsAsync() => BackendServers.WaitUntilServingAsync(Client, Web1, Web2);

    /// <summary>Both VIPs answer through their preferred masters after <paramref name="since"/>, each bound on that node only.</summary>
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
            throw new TimeoutException($"{e.Message}\n{FailureDetails()}", e);
        }
    }

    /// <summary>What a failed wait adds to its message: the agents' output and whatever else tells why.</summary>
    protected abstract string FailureDetails();

    /// <summary>Stopped and removed by <see cref="Dispose"/>, newest first, before the namespaces.</summary>
    protected T Own<T>(T owned) where T : IDisposable => _owned.Own(owned);

    /// <summary>What the lab stops first, before what it owns (e.g. the operators, so they give their Lease up).</summary>
    protected virtual void StopFirst(List<Exception> failures) { }

    public void Dispose()
    {
        var failures = new List<Exception>();
        StopFirst(failures);
        _owned.DisposeAll(failures);
        try { _network?.Dispose(); }
        catch (Exception e) { failures.Add(e); }
        try { Directory.Delete(WorkDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { failures.Add(e); }
        GC.SuppressFinalize(this);
        if (failures.Count > 0) throw new AggregateException($"{_description} lab cleanup failed", failures);
    }
}
