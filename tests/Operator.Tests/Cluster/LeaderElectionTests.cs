using System.Collections.Concurrent;
using k8s;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>Two replicas' leader election on a Lease of the test cluster (coordination.k8s.io, served by the real server as a CRD).</summary>
public sealed class LeaderElectionTests(LeaderElectionTests.Server fixture) : IClassFixture<LeaderElectionTests.Server>
{
    public sealed class Server : IAsyncLifetime
    {
        public ApiServer ApiServer { get; } = new();

        public Task InitializeAsync() => ApiServer.InitializeAsync(); // the cluster serves Lease (a CRD) already

        public Task DisposeAsync() => ApiServer.DisposeAsync();
    }

    private readonly ApiServer _server = fixture.ApiServer;
    private readonly StringWriter _logText = new();

    /// <summary>A replica: its elector and a log of when its reconcile loop ran (start, end).</summary>
    private sealed class Replica(string name, LeaderElection election, CancellationTokenSource stop)
    {
        public string Name { get; } = name;
        public LeaderElection Election { get; } = election;
        public CancellationTokenSource Stop { get; } = stop;
        public ConcurrentQueue<(DateTime Start, DateTime? End)> Terms { get; } = new();
        public volatile bool Running;
        public Task Run { get; set; } = Task.CompletedTask;
    }

    private Replica Start(string lease, string name, int? viaPort, TimeSpan leaseDuration, ConcurrentQueue<string> timeline)
    {
        var client = _server.Client(viaPort);
        var log = new OperatorLog(TextWriter.Synchronized(_logText), TimeProvider.System, debug: true);
        var election = new LeaderElection(client, new LeaderElectionOptions("default", lease, name)
        {
            LeaseDuration = leaseDuration,
            RenewDeadline = TimeSpan.FromSeconds(2),
            RetryPeriod = TimeSpan.FromMilliseconds(300),
            ErrorBackoff = new Backoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1)),
        }, log);
        var replica = new Replica(name, election, new CancellationTokenSource());
        replica.Run = election.RunAsync(async ct =>
        {
            replica.Running = true;
            timeline.Enqueue($"{name} start");
            try { await Task.Delay(Timeout.Infinite, ct); }
            finally
            {
                timeline.Enqueue($"{name} end");
                replica.Running = false;
            }
        }, replica.Stop.Token);
        return replica;
    }

    private async Task<DateTime> Until(Func<bool> condition, string what, double seconds)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} within {seconds} s; log:\n{_logText}");
            await Task.Delay(10);
        }
        return DateTime.UtcNow;
    }

    /// <summary>How often some replica has logged that it saw <paramref name="leader"/> lead (each elector logs it once per change it observes).</summary>
    private int SeenLeading(string leader) =>
        System.Text.RegularExpressions.Regex.Matches(_logText.ToString(), $"the leader is {leader}\\b").Count;

    /// <summary>Waits until the Lease, read from the server, was renewed by <paramref name="holder"/> at or after <paramref name="after"/>.</summary>
    private async Task UntilRenewed(string lease, string holder, DateTime after, double seconds)
    {
        var client = _server.Client(null);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (true)
        {
            var spec = (await client.CoordinationV1.ReadNamespacedLeaseAsync(lease, "default")).Spec;
            if (spec.HolderIdentity == holder && spec.RenewTime >= after) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Lease {lease} renewed by {holder} after {after:O} within {seconds} s (holder {spec.HolderIdentity}, renewed {spec.RenewTime:O}); log:\n{_logText}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Only_one_replica_leads_and_the_other_takes_over_after_the_lease_when_the_leader_is_cut_off()
    {
        var timeline = new ConcurrentQueue<string>();
        using var relayA = new TcpRelay(_server.Port);
        var a = Start("cut-off", "a", relayA.Port, TimeSpan.FromSeconds(4), timeline);
        await Until(() => a.Running, "a leads", 20);
        var b = Start("cut-off", "b", null, TimeSpan.FromSeconds(4), timeline);
        // b must keep waiting while a renews: once b has seen a lead, a renews past a whole lease duration from then.
        var bSawA = await Until(() => SeenLeading("a") >= 2, "b sees a lead", 20);
        await UntilRenewed("cut-off", "a", bSawA + TimeSpan.FromSeconds(4.5), 20);
        Assert.False(b.Running);
        Assert.True(a.Running);

        relayA.Refuse(); // a can no longer renew: it stops within its renew deadline, b takes over after the lease
        var cutAt = DateTime.UtcNow;
        await Until(() => b.Running, "b leads", 20);
        var took = DateTime.UtcNow - cutAt;
        Assert.False(a.Running);
        Assert.Equal(["a start", "a end", "b start"], timeline); // never both at once
        Assert.InRange(took.TotalSeconds, 2, 12);

        relayA.Accept(); // a's own retry loop keeps it a candidate after its API errors; it does not lead while b does
        var seenB = SeenLeading("b");
        await Until(() => SeenLeading("b") > seenB, "a reaches the server again and sees b lead", 20);
        await UntilRenewed("cut-off", "b", DateTime.UtcNow, 10); // and b renews after that
        Assert.False(a.Running);
        b.Stop.Cancel();
        await b.Run.WaitAsync(TimeSpan.FromSeconds(10));
        await Until(() => a.Running, "a leads again after its errors", 20);
        Assert.Equal(2, a.Election.Terms);
        a.Stop.Cancel();
        await a.Run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_clean_shutdown_gives_the_lease_up_so_the_next_replica_leads_at_once_not_after_the_lease_duration()
    {
        var timeline = new ConcurrentQueue<string>();
        var a = Start("release", "a", null, TimeSpan.FromSeconds(30), timeline);
        await Until(() => a.Running, "a leads", 20);
        var b = Start("release", "b", null, TimeSpan.FromSeconds(30), timeline);
        await Until(() => SeenLeading("a") >= 2, "b sees a lead", 20);
        Assert.False(b.Running);

        var stopAt = DateTime.UtcNow;
        a.Stop.Cancel();
        await a.Run.WaitAsync(TimeSpan.FromSeconds(10));
        await Until(() => b.Running, "b leads", 10); // a 30 s lease would otherwise hold b back for 30 s
        Assert.InRange((DateTime.UtcNow - stopAt).TotalSeconds, 0, 5);
        Assert.Contains("released Lease default/release", _logText.ToString());
        Assert.Equal(["a start", "a end", "b start"], timeline);
        b.Stop.Cancel();
        await b.Run.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
