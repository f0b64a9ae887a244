using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// Backend pool changes applied by rewriting the manifest file of a running standalone pair (issue 3, section 8):
/// each valid change reloads nginx on both balancers without failing a request; an invalid one is rejected with
/// its field path while nginx keeps serving the last good config.
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class PoolChangeTests(ITestOutputHelper output) : IAsyncLifetime
{
    const int Changes = 20;
    static readonly TimeSpan ChangeInterval = TimeSpan.FromMilliseconds(300);
    static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(5);
    static readonly TimeSpan MaxGap = TimeSpan.FromSeconds(1.5);

    readonly DualMasterLab _lab = new("st");

    public Task InitializeAsync() => _lab.StartAsync();

    public Task DisposeAsync()
    {
        _lab.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The agent's log line for an accepted config that nginx was told to load.</summary>
    static bool IsReload(string line) => line.Contains("nginx: config reloaded", StringComparison.Ordinal);

    [Fact]
    public async Task Twenty_pool_changes_under_load_reload_nginx_on_both_nodes_without_a_failed_request()
    {
        var web1 = _lab.Web1Server;
        var web2 = _lab.Web2Server;
        var web2Second = web2 with { Port = BackendServers.SecondPort };
        // Weights, a removal and an addition, in a cycle where each change differs from the one before.
        PoolServer[][] variants =
        [
            [web1 with { Weight = 3 }, web2 with { Weight = 1 }],
            [web1],
            [web1, web2],
            [web1, web2, web2Second],
        ];
        // Each change waits for its reload to be confirmed (new workers) on both nodes: about 0.6 s a change here.
        var load = TimeSpan.FromSeconds(20);
        // Fresh connections through VIP 1 (lb1), kept-alive ones through VIP 2 (lb2): both nodes reload under load.
        var fresh = _lab.StartWrk(DualMasterLab.Vip1, load, connections: 10, keepAlive: false);
        var kept = _lab.StartWrk(DualMasterLab.Vip2, load, connections: 10, keepAlive: true);
        await Task.Delay(TimeSpan.FromSeconds(1));

        var changesStart = DateTimeOffset.UtcNow;
        var reloadLatencies = new List<TimeSpan>();
        for (int i = 0; i < Changes; i++)
        {
            var since = DateTimeOffset.UtcNow;
            _lab.WriteManifest(variants[i % variants.Length]);
            foreach (var node in _lab.Balancers)
            {
                var reloaded = await node.Agent.Process.WaitForLineAsync(IsReload, ReloadTimeout, since);
                reloadLatencies.Add(reloaded - since);
            }
            var next = since + ChangeInterval - DateTimeOffset.UtcNow;
            if (next > TimeSpan.Zero) await Task.Delay(next);
        }
        var changesEnd = DateTimeOffset.UtcNow;
        Assert.False(fresh.HasExited || kept.HasExited, $"the load ended before the {Changes} changes did ({(changesEnd - changesStart).TotalSeconds:F1} s)");

        await fresh.WaitForExitAsync(load + TimeSpan.FromSeconds(10));
        await kept.WaitForExitAsync(load + TimeSpan.FromSeconds(10));
        var freshReport = WrkReport.Parse(fresh.Output);
        var keptReport = WrkReport.Parse(kept.Output);
        output.WriteLine($"{Changes} changes in {(changesEnd - changesStart).TotalSeconds:F1} s; reload logged after {reloadLatencies.Average(t => t.TotalMilliseconds):F0} ms on average, {reloadLatencies.Max().TotalMilliseconds:F0} ms at most");
        output.WriteLine($"wrk, new connection per request, {DualMasterLab.Vip1}: {freshReport}");
        output.WriteLine($"wrk, keep-alive, {DualMasterLab.Vip2}: {keptReport}");

        foreach (var node in _lab.Balancers)
        {
            int reloads = node.Agent.Process.LinesSince(changesStart).Count(IsReload);
            Assert.True(reloads == Changes, $"{node.Name}: {reloads} reloads for {Changes} changes\n{node.Output}");
        }
        Assert.True(freshReport.Requests > 0 && freshReport.Non2xxOr3xx == 0 && freshReport.SocketErrors == 0, $"{freshReport}\n{fresh.Output}");
        // nginx closes idle keep-alive connections when old workers retire on reload; a request racing that close is
        // a wrk read error, a client-side retry case nginx itself cannot avoid. What must never happen is a bad status.
        Assert.True(keptReport.Requests > 0 && keptReport.Non2xxOr3xx == 0, $"{keptReport}\n{kept.Output}");

        // Reloads under load must not move a VIP: every answer came through its preferred master, without gaps.
        var loadEnd = DateTimeOffset.UtcNow;
        foreach (var probe in _lab.Probes)
        {
            var master = _lab.PreferredMasterOf(probe);
            var gap = probe.LongestGap(changesStart, loadEnd);
            output.WriteLine($"{probe.Vip} during the changes: longest gap {gap.TotalMilliseconds:F0} ms");
            Assert.True(gap < MaxGap && probe.Between(changesStart, loadEnd).All(s => !s.Ok || master.Address.Equals(s.Via)),
                $"{probe.Vip} during the changes: {probe.Describe(changesStart, loadEnd, _lab.ByBalancer)}\n{_lab.AgentOutput}");
        }

        // The last change added web2's second server: both balancers must now send requests to it.
        foreach (var probe in _lab.Probes)
            await probe.WaitForAsync(s => s.Backend == "web2b", loadEnd, TimeSpan.FromSeconds(5), "answered by the server the last change added");
    }

    [Fact]
    public async Task An_invalid_pool_change_is_rejected_with_its_field_path_and_nginx_keeps_serving_the_last_good_config()
    {
        var web1 = _lab.Web1Server;
        var web2 = _lab.Web2Server;
        await ApplyAsync([web1]);
        await WaitUntilOnlyAsync("web1");

        (PoolServer[] Servers, string Path)[] invalidChanges =
        [
            ([web1, web2 with { Weight = 0 }], "spec.backends.servers[1].weight"),
            ([web1, web2 with { Address = $"{web2.Address}:{web2.Port}" }], "spec.backends.servers[1].address"),
        ];
        foreach (var (servers, path) in invalidChanges)
        {
            var since = DateTimeOffset.UtcNow;
            var masters = _lab.Balancers.Select(b => b.NginxMasterPid()).ToArray();
            _lab.WriteManifest(servers);
            foreach (var node in _lab.Balancers)
            {
                await node.Agent.Process.WaitForLineAsync(
                    l => l.Contains("config rejected:", StringComparison.Ordinal) && l.Contains(path, StringComparison.Ordinal)
                        && l.Contains(Path.GetFileName(_lab.ManifestPath) + ":", StringComparison.Ordinal),
                    ReloadTimeout, since);
            }
            // The probes keep asking after both nodes rejected the change: five answers each, whatever they are, are judged.
            var rejectedAt = DateTimeOffset.UtcNow;
            foreach (var probe in _lab.Probes)
                await probe.WaitForAsync(s => probe.Between(rejectedAt, s.At).Count >= 5, rejectedAt, TimeSpan.FromSeconds(10),
                    "five answers after the rejection");
            var until = DateTimeOffset.UtcNow;
            foreach (var probe in _lab.Probes)
            {
                // Every answer comes from the last good config (web1). A probe whose connection nginx accepted but whose
                // answer took longer than the probe's 300 ms read timeout (a loaded CI machine) is no sign of a change:
                // that nginx was not touched is proven below by its unchanged master PID and the absence of a reload.
                var answers = probe.Between(since, until);
                Assert.True(answers.Count(s => s.Ok) > 0 && answers.All(s => (s.Ok && s.Backend == "web1") || s.Failure == "read timeout"),
                    $"{probe.Vip} after the invalid change ({path}): {probe.Describe(since, until)}");
            }
            foreach (var node in _lab.Balancers)
                Assert.DoesNotContain(node.Agent.Process.LinesSince(since), IsReload);
            Assert.Equal(masters, _lab.Balancers.Select(b => b.NginxMasterPid()).ToArray());
            output.WriteLine($"rejected ({path}): {_lab.Lb1.Agent.Process.LinesSince(since).First(l => l.Contains("config rejected:", StringComparison.Ordinal))}");
        }

        await ApplyAsync([web2]);
        await WaitUntilOnlyAsync("web2");
    }

    async Task ApplyAsync(PoolServer[] servers)
    {
        var since = DateTimeOffset.UtcNow;
        _lab.WriteManifest(servers);
        foreach (var node in _lab.Balancers)
            await node.Agent.Process.WaitForLineAsync(IsReload, ReloadTimeout, since);
    }

    /// <summary>
    /// Waits until both VIPs have answered from <paramref name="backend"/> alone for <see cref="ChangeInterval"/>:
    /// old workers go on accepting for a few ms after a reload, until the new ones are up.
    /// </summary>
    async Task WaitUntilOnlyAsync(string backend)
    {
        var since = DateTimeOffset.UtcNow;
        foreach (var probe in _lab.Probes)
        {
            await Eventually.Until(() =>
            {
                var now = DateTimeOffset.UtcNow;
                var recent = probe.Between(now - ChangeInterval, now);
                return recent.Count >= 5 && recent[0].At - since >= TimeSpan.Zero && recent.All(s => s.Backend == backend);
            }, only => only, TimeSpan.FromSeconds(5), $"{probe.Vip} answered by {backend} alone; answers: {probe.Describe(since, DateTimeOffset.UtcNow)}");
        }
    }
}
