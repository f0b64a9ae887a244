using NginxHa.Integration.Tests.Standalone;
using NginxHa.Integration.Tests.Support;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// Issue 9 §4 end to end on the test cluster: kubectl drives the operator, the operator drives two real agents in network
/// namespaces, nginx serves both VIPs to a client that probes them all along. One lab per test (the steps of one story
/// share it); the cluster is this class's own, because one test stops its API server.
/// </summary>
public sealed class ClusterEndToEndTests(CrdCluster cluster, ITestOutputHelper output) : IClassFixture<CrdCluster>
{
    readonly TestCluster _k = cluster.Server;
    static string Prefix(string tag) => $"{tag}{Environment.ProcessId % 100:00}";

    // The stories that judge lost requests across nginx reloads probe as patient clients. Captures on the lab's bridge
    // of passing runs showed why: while both nodes reload (the agent's nginx -t, the master's re-read, new workers, on
    // 2 CPUs), both balancers' workers forwarded their backend's answer 55 ms late, every request answered. Under load
    // such waits passed the gap meter's 300 ms read timeout (the captures of those runs were cut short, so that part is
    // inferred). A lost request still fails here: no answer within 3 s. The stories that measure gaps (a failover, the
    // API outage) keep the gap meter.
    static readonly TimeSpan Patient = TimeSpan.FromSeconds(3);

    async Task<ClusterDualMasterLab> StartLabAsync(string tag, TimeSpan? probeTimeout, params string[] operators)
    {
        // Each story starts on an empty cluster: the last test's group status would otherwise meet the wait below at once.
        ClusterDualMasterLab.RemoveLeftovers(_k);
        var lab = new ClusterDualMasterLab(_k, Prefix(tag), probeTimeout);
        try
        {
            await lab.WaitForBackendsAsync();
            _k.Ok("apply", "-f", _k.WriteManifest($"{tag}-nodes.json", lab.NodesJson()));
            foreach (var identity in operators) lab.StartOperator(identity);
            lab.Lb1.Start();
            lab.Lb2.Start();
            var since = DateTimeOffset.UtcNow;
            _k.Ok("apply", "-f", _k.WriteManifest($"{tag}-dual-master.yaml", ClusterDualMasterLab.ExampleOnLabAddresses()));
            await lab.WaitForPreferredMastersAsync(since, TimeSpan.FromSeconds(60));
            await Eventually.Until(lab.Masters, m => m == $"{ClusterDualMasterLab.Vip1}=lb1 {ClusterDualMasterLab.Vip2}=lb2",
                TimeSpan.FromSeconds(15), "the group status names lb1 and lb2 as masters");
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    [Fact]
    public async Task KubectlApply_ServesBothVips_ThenAddedBackend_OperatorFailover_AgentKill_AndDelete_WithoutLosingRequests()
    {
        using var lab = await StartLabAsync("e2", Patient, "op-a", "op-b");
        var vip1 = ClusterDualMasterLab.Vip1;
        var vip2 = ClusterDualMasterLab.Vip2;

        // 1. kubectl get vipg shows both masters, in VIP order, and Ready.
        var table = _k.Ok("get", "vipg", "-n", ClusterDualMasterLab.Namespace);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(table, @"\slb1,lb2\s+True\s"), table);

        // The leader's metrics (issue 10): both VIPs with one master, every NodeHaConfig applied; the standby does not lead.
        var leading = await Eventually.Until(() => lab.Operators.FirstOrDefault(o => o.Lines.Any(l => l.Contains(" leads (Lease", StringComparison.Ordinal))),
            o => o is not null, TimeSpan.FromSeconds(10), "an operator replica leads");
        var scraped = await Eventually.UntilAsync(() => lab.ScrapeAsync(leading!), m => m.Contains("nginx_ha_operator_vips{state=\"one_master\"} 2", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the leader counts two VIPs with one master");
        Assert.Contains("nginx_ha_operator_vips{state=\"several_masters\"} 0", scraped);
        Assert.Contains("nginx_ha_operator_vips{state=\"no_master\"} 0", scraped);
        Assert.Contains("nginx_ha_operator_nodehaconfigs_out_of_date 0", scraped);
        Assert.Contains("nginx_ha_operator_is_leader 1", scraped);
        Assert.Contains("nginx_ha_operator_is_leader 0", await lab.ScrapeAsync(lab.Operators.Single(o => o != leading)));

        // 3. A backend added to the pool: nginx reloads on both nodes and serves it, no request fails meanwhile.
        var edited = DateTimeOffset.UtcNow;
        _k.Ok("patch", "nbp", "web", "-n", ClusterDualMasterLab.Namespace, "--type", "json", "-p",
            """[{"op": "add", "path": "/spec/backends/servers/-", "value": {"address": "198.18.0.3", "port": 8081}}]""");
        foreach (var probe in lab.Probes)
            await probe.WaitForAsync(s => s.Ok && s.Backend == "web1b", edited, TimeSpan.FromSeconds(30), "the added backend web1b served", s => s.ToString());
        var served = DateTimeOffset.UtcNow;
        foreach (var probe in lab.Probes)
        {
            var failed = probe.Between(edited, served).Where(s => !s.Ok).ToArray();
            Assert.True(failed.Length == 0, $"{probe.Vip}: {failed.Length} request(s) failed during the pool change: {string.Join("; ", failed.Take(5))}");
            output.WriteLine($"{probe.Vip}: slowest answer during the pool change {probe.Between(edited, served).Max(s => s.Took).TotalMilliseconds:0} ms");
            Assert.Equal(lab.PreferredMasterOf(probe).Address, (await probe.WaitForAsync(s => s.Backend == "web1b", edited, TimeSpan.Zero, "web1b")).Via);
        }
        foreach (var node in lab.Balancers) Assert.Contains("198.18.0.3:8081", File.ReadAllText(node.NginxConfig));

        // 5. Two operator replicas: the leader dies, the other leads within the lease duration; the VIPs never notice.
        var leader = await Eventually.Until(() => lab.Operators.FirstOrDefault(o => o.Lines.Any(l => l.Contains(" leads (Lease", StringComparison.Ordinal))),
            o => o is not null, TimeSpan.FromSeconds(10), "an operator replica leads");
        var other = lab.Operators.Single(o => o != leader);
        var killed = DateTimeOffset.UtcNow;
        leader!.Signal(ChildProcess.SIGKILL);
        var led = await other.WaitForLineAsync(l => l.Contains(" leads (Lease", StringComparison.Ordinal), ClusterDualMasterLab.LeaseDuration * 2, killed);
        // The standby dates the leader's last renewal by its own poll (every retry period), then polls again (one more
        // retry period) after the lease has run out from there: up to two retry periods on top of the lease, plus the
        // polls' own round trips.
        var retryPeriod = ClusterDualMasterLab.LeaseDuration * 2 / 15;
        var bound = ClusterDualMasterLab.LeaseDuration + 2 * retryPeriod + TimeSpan.FromSeconds(0.5);
        output.WriteLine($"leader SIGKILL to the other replica leading: {(led - killed).TotalSeconds:0.00} s (bound {bound.TotalSeconds:0.0} s)");
        Assert.True(led - killed <= bound,
            $"the other replica led {(led - killed).TotalSeconds:0.0} s after the leader died (lease {ClusterDualMasterLab.LeaseDuration.TotalSeconds} s, retry period {retryPeriod.TotalSeconds:0.0} s, bound {bound.TotalSeconds:0.0} s)");
        // It reconciles: a change made now reaches both nodes.
        _k.Ok("patch", "nbp", "web", "-n", ClusterDualMasterLab.Namespace, "--type", "json", "-p", """[{"op": "remove", "path": "/spec/backends/servers/2"}]""");
        foreach (var node in lab.Balancers)
            await Eventually.Until(() => File.ReadAllText(node.NginxConfig), c => !c.Contains("198.18.0.3:8081", StringComparison.Ordinal), TimeSpan.FromSeconds(20),
                $"{node.Name}: the new leader's change reached nginx");
        var afterTakeover = DateTimeOffset.UtcNow;
        foreach (var probe in lab.Probes)
        {
            var failed = probe.Between(killed, afterTakeover).Where(s => !s.Ok || !lab.PreferredMasterOf(probe).Address.Equals(s.Via)).ToArray();
            Assert.True(failed.Length == 0, $"{probe.Vip} noticed the operator failover: {string.Join("; ", failed.Take(5))}");
            output.WriteLine($"{probe.Vip}: slowest answer through the operator failover {probe.Between(killed, afterTakeover).Max(s => s.Took).TotalMilliseconds:0} ms");
        }

        // 2. lb1's agent is killed (kill PID: SIGTERM): lb2 takes VIP 1, and the status shows it within 2 s. The status is
        // watched while the agent stops: its exit waits for nginx to quit (up to 5 s with connections left on a removed VIP).
        var stopped = DateTimeOffset.UtcNow;
        var statusShown = Task.Run(async () =>
        {
            await Eventually.Until(lab.Masters, m => m == $"{vip1}=lb2 {vip2}=lb2", TimeSpan.FromSeconds(10), "the status names lb2 master of both VIPs");
            return DateTimeOffset.UtcNow;
        });
        Assert.Equal(0, await lab.Lb1.StopAsync());
        await lab.Probe1.WaitForAsync(s => s.Ok && lab.Lb2.Address.Equals(s.Via), stopped, TimeSpan.FromSeconds(5), "VIP 1 served through lb2", lab.ByBalancer);
        var statusLatency = await statusShown - stopped;
        output.WriteLine($"SIGTERM to status (lb2 master of both VIPs): {statusLatency.TotalMilliseconds:0} ms");
        Assert.True(statusLatency <= TimeSpan.FromSeconds(2), $"the status showed the new master {statusLatency.TotalMilliseconds:0} ms after the kill (at most 2 s)");
        Assert.False(lab.Lb1.Holds(vip1), "lb1 released VIP 1");
        // lb1 comes back: it preempts its own VIP, and the status follows.
        var restarted = DateTimeOffset.UtcNow;
        lab.Lb1.Start();
        await lab.WaitForPreferredMastersAsync(restarted, TimeSpan.FromSeconds(30));
        await Eventually.Until(lab.Masters, m => m == $"{vip1}=lb1 {vip2}=lb2", TimeSpan.FromSeconds(10), "the status names lb1 again");

        // 7. kubectl delete the VirtualIpGroup: the VIPs leave both nodes, then the object is gone.
        var deleting = DateTimeOffset.UtcNow;
        _k.Ok("delete", "vipg", "web", "-n", ClusterDualMasterLab.Namespace, "--wait=false");
        // The object stays while any node still holds one of its VIPs (the finalizer waits for the agents).
        await Eventually.Until(() =>
        {
            bool held = lab.Balancers.Any(b => b.Holds(vip1) || b.Holds(vip2));
            Assert.False(held && lab.Group() is null, "the VirtualIpGroup was gone while a node still held its VIPs");
            return held;
        }, held => !held, TimeSpan.FromSeconds(20), "the VIPs left both nodes");
        await Eventually.Until(() => lab.Group() is null, gone => gone, TimeSpan.FromSeconds(30), "the VirtualIpGroup is gone");
    }

    [Fact]
    public async Task AgentSigkilled_ItsHeartbeatExpires_TheSurvivorIsTheOnlyMaster_AndNodeNotReportingNamesTheNode_ThenItRecovers()
    {
        using var lab = await StartLabAsync("e4", probeTimeout: null, "op-a");
        var vip1 = ClusterDualMasterLab.Vip1;
        var vip2 = ClusterDualMasterLab.Vip2;
        Assert.Contains("lb1", _k.Ok("get", "lease", "-n", "default", "nginx-ha-agent-lb1", "-o", "jsonpath={.spec.holderIdentity}"));
        await Eventually.Until(() => lab.Condition("Degraded"), c => c.StartsWith("False Redundant", StringComparison.Ordinal), TimeSpan.FromSeconds(15),
            "Degraded=False before the kill");

        // lb1 dies (agent and nginx SIGKILL): no final status, its last report (MASTER of VIP 1) stays on its NodeHaConfig.
        var killed = DateTimeOffset.UtcNow;
        await lab.Lb1.CrashAsync();
        await lab.Probe1.WaitForAsync(s => s.Ok && lab.Lb2.Address.Equals(s.Via), killed, TimeSpan.FromSeconds(10), "VIP 1 served through lb2", lab.ByBalancer);

        // Within the heartbeat's duration plus 3 s (the operator's timer, one reconcile, one status write, our 50 ms poll):
        // lb2 alone is master of both VIPs, Ready (no MultipleMasters), and Degraded names lb1 as not reporting.
        var bound = ClusterDualMasterLab.HeartbeatDuration + TimeSpan.FromSeconds(3);
        var seen = await Eventually.Until(() => (Masters: lab.Masters(), Ready: lab.Condition("Ready"), Degraded: lab.Condition("Degraded")),
            v => v.Masters == $"{vip1}=lb2 {vip2}=lb2" && v.Ready.StartsWith("True MasterElected", StringComparison.Ordinal)
                 && v.Degraded.StartsWith("True NodeNotReporting", StringComparison.Ordinal) && v.Degraded.Contains("lb1 (Lease nginx-ha-agent-lb1", StringComparison.Ordinal),
            bound + TimeSpan.FromSeconds(20), "lb2 the only master, Ready, and Degraded/NodeNotReporting naming lb1");
        var latency = DateTimeOffset.UtcNow - killed;
        Assert.True(latency <= bound, $"the status showed it {latency.TotalSeconds:0.0} s after the SIGKILL (bound {bound.TotalSeconds:0} s): {seen}\n{lab.Output}");
        output.WriteLine($"SIGKILL to status (lb2 only master, NodeNotReporting lb1): {latency.TotalSeconds:0.00} s; heartbeat {ClusterDualMasterLab.HeartbeatDuration.TotalSeconds:0} s");
        // The heartbeat did it: lb1's stale report still says MASTER of VIP 1's instance.
        Assert.Contains("edge/web/0=Master", lab.Reported("lb1"));
        Assert.Contains("heartbeat expired", seen.Degraded);

        // lb1 comes back: its heartbeat is renewed, it preempts VIP 1, and the status recovers.
        var restarted = DateTimeOffset.UtcNow;
        lab.Lb1.Start();
        await lab.WaitForPreferredMastersAsync(restarted, TimeSpan.FromSeconds(30));
        await Eventually.Until(() => (Masters: lab.Masters(), Ready: lab.Condition("Ready"), Degraded: lab.Condition("Degraded")),
            v => v.Masters == $"{vip1}=lb1 {vip2}=lb2" && v.Ready.StartsWith("True MasterElected", StringComparison.Ordinal)
                 && v.Degraded.StartsWith("False Redundant", StringComparison.Ordinal),
            TimeSpan.FromSeconds(15), "the status recovered: lb1 and lb2 masters, Degraded=False");
    }

    [Fact]
    public async Task ApiServerAway_60s_TheVipStillMoves_NothingLostBeyondTheFailover_AndARestartedAgentServesItsLastConfig()
    {
        using var lab = await StartLabAsync("e3", probeTimeout: null, "op-a");
        var vip1 = ClusterDualMasterLab.Vip1;
        var vip2 = ClusterDualMasterLab.Vip2;

        var outage = DateTimeOffset.UtcNow;
        _k.StopApiServer();
        try
        {
            Assert.NotEqual(0, _k.Run("get", "vipg", "-n", ClusterDualMasterLab.Namespace, "--request-timeout=3s").ExitCode);
            // The agents and the operator are in their retry loops: each agent's heartbeat (renewed every second) has
            // failed, and the operator has given up leading (its renew deadline, 4 s of the 6 s Lease).
            foreach (var node in lab.Balancers)
                await node.Agent.Process.WaitForLineAsync(l => l.Contains("heartbeat: renewing Lease", StringComparison.Ordinal) && l.Contains(" failed", StringComparison.Ordinal),
                    TimeSpan.FromSeconds(15), outage);
            await lab.Operators.Single().WaitForLineAsync(l => l.Contains(" stopped leading", StringComparison.Ordinal), TimeSpan.FromSeconds(15), outage);

            // A master dies while the API server is away: VRRP moves its VIP all the same.
            var crashed = DateTimeOffset.UtcNow;
            await lab.Lb2.CrashAsync();
            var takenOver = await lab.Probe2.WaitForAsync(s => s.Ok && lab.Lb1.Address.Equals(s.Via), crashed, TimeSpan.FromSeconds(5), "VIP 2 served through lb1", lab.ByBalancer);
            var gap = lab.Probe2.LongestGap(crashed, takenOver.At + TimeSpan.FromSeconds(1));
            Assert.True(gap < TimeSpan.FromSeconds(1.5), $"VIP 2 was unserved {gap.TotalMilliseconds:0} ms around the failover\n{lab.Probe2.Describe(crashed, takenOver.At, lab.ByBalancer)}");

            // lb2's agent restarted during the outage comes back serving its last config (from disk) and takes VIP 2 back.
            var restarted = DateTimeOffset.UtcNow;
            lab.Lb2.Start();
            await lab.Probe2.WaitForAsync(s => s.Ok && lab.Lb2.Address.Equals(s.Via), restarted, TimeSpan.FromSeconds(30), "VIP 2 served through lb2 again", lab.ByBalancer);
            Assert.Contains(lab.Lb2.Agent.Process.Lines, l => l.Contains("last applied config", StringComparison.Ordinal));

            var remaining = outage + TimeSpan.FromSeconds(60) - DateTimeOffset.UtcNow;
            if (remaining > TimeSpan.Zero) await Task.Delay(remaining); // the outage lasts 60 s, as the issue asks
            var end = DateTimeOffset.UtcNow;
            // VIP 1 never moved; VIP 2 only around the crash and lb2's return.
            Assert.True(lab.Probe1.LongestGap(outage, end) < TimeSpan.FromSeconds(0.5), $"VIP 1 noticed the outage:\n{lab.Probe1.Describe(outage, end, lab.ByBalancer)}");
            var returned = lab.Probe2.Between(restarted, end).First(s => s.Ok && lab.Lb2.Address.Equals(s.Via)).At;
            Assert.True(lab.Probe2.LongestGap(returned, end) < TimeSpan.FromSeconds(0.5), "VIP 2 stayed served after lb2 returned");
        }
        finally
        {
            _k.StartApiServer();
        }

        // The API server back: the agents catch up and the status shows the masters again.
        await Eventually.Until(lab.Masters, m => m == $"{vip1}=lb1 {vip2}=lb2", TimeSpan.FromSeconds(60), "the status after the outage");
        foreach (var node in lab.Balancers) Assert.True(node.Holds(node == lab.Lb1 ? vip1 : vip2), $"{node.Name} holds its VIP");
    }

    /// <summary>A self-signed certificate (PEM) and its serial number, as a client sees it.</summary>
    static (string Certificate, string Key, string Serial) Certificate(string commonName)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest($"CN={commonName}", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), certificate.SerialNumber);
    }

    void ApplyTlsSecret(string certificate, string key) => _k.Ok("apply", "-f", _k.WriteManifest($"web-tls-{Guid.NewGuid():N}.json", new System.Text.Json.Nodes.JsonObject
    {
        ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = "kubernetes.io/tls",
        ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = "web-tls", ["namespace"] = ClusterDualMasterLab.Namespace },
        ["data"] = new System.Text.Json.Nodes.JsonObject
        {
            ["tls.crt"] = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(certificate)),
            ["tls.key"] = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(key)),
        },
    }.ToJsonString()));

    [Fact]
    public async Task TlsListenerFromASecret_ServesHttpsOnBothNodes_AReplacedSecretIsServedByBoth_WithoutAFailedRequest_AndABadOneChangesNothing()
    {
        const int HttpsPort = 8443;
        using var lab = await StartLabAsync("e5", Patient, "op-a");
        var first = Certificate("www.example.org");
        ApplyTlsSecret(first.Certificate, first.Key);
        _k.Ok("patch", "nbp", "web", "-n", ClusterDualMasterLab.Namespace, "--type", "json", "-p",
            """[{"op": "add", "path": "/spec/listeners/-", "value": {"port": 8443, "tls": {"secretName": "web-tls"}}}]""");
        // Patient clients (a TLS handshake on a machine at load 20-60 can take longer than the HTTP probes' 300 ms): only
        // real failures count.
        using var https1 = new VipProbe(lab.Client, ClusterDualMasterLab.Vip1, HttpsPort, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3), tls: true);
        using var https2 = new VipProbe(lab.Client, ClusterDualMasterLab.Vip2, HttpsPort, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3), tls: true);
        var https = new[] { (Probe: https1, Node: lab.Lb1), (Probe: https2, Node: lab.Lb2) };
        var added = DateTimeOffset.UtcNow;

        // HTTPS through each VIP, from its preferred master: both nodes serve the Secret's certificate.
        foreach (var (probe, node) in https)
            await probe.WaitForAsync(s => s.Ok && s.Certificate == first.Serial && node.Address.Equals(s.Via), added, TimeSpan.FromSeconds(60),
                $"HTTPS with the Secret's certificate through {node.Name}", s => s.ToString());
        foreach (var node in lab.Balancers)
        {
            var keys = Directory.GetFiles(Path.Combine(node.StateDirectory, "nginx", "secrets"), "tls.key", SearchOption.AllDirectories);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Assert.Single(keys)));
            Assert.DoesNotContain(first.Key.Split('\n')[1], node.Output);
        }

        // The Secret replaced: both nodes reload and serve the new certificate; no request fails meanwhile.
        var second = Certificate("www.example.org");
        var replaced = DateTimeOffset.UtcNow;
        ApplyTlsSecret(second.Certificate, second.Key);
        foreach (var (probe, node) in https)
            await probe.WaitForAsync(s => s.Ok && s.Certificate == second.Serial && node.Address.Equals(s.Via), replaced, TimeSpan.FromSeconds(30),
                $"the new certificate served through {node.Name}", s => s.ToString());
        var served = DateTimeOffset.UtcNow;
        foreach (var (probe, node) in https)
        {
            var firstNew = probe.Between(replaced, served).First(s => s.Ok && s.Certificate == second.Serial).At;
            output.WriteLine($"{node.Name}: the replaced Secret's certificate served {(firstNew - replaced).TotalMilliseconds:0} ms after kubectl apply returned; " +
                             $"{probe.Between(replaced, served).Count} HTTPS requests meanwhile");
        }
        foreach (var probe in lab.Probes.Concat([https1, https2]))
        {
            var failed = probe.Between(replaced, served).Where(s => !s.Ok).ToArray();
            Assert.True(failed.Length == 0, $"{probe.Vip}: {failed.Length} request(s) failed while the certificate changed: {string.Join("; ", failed.Take(5))}");
            output.WriteLine($"{probe.Vip}{(probe == https1 || probe == https2 ? " HTTPS" : "")}: slowest answer while the certificate changed " +
                             $"{probe.Between(replaced, served).Max(s => s.Took).TotalMilliseconds:0} ms");
        }
        Assert.True((served - replaced) < TimeSpan.FromSeconds(30), "served by its own watch, not the periodic re-read");
        foreach (var node in lab.Balancers) Assert.Contains("reloaded", node.Output);

        // The reload is complete once old workers no longer answer: ten answers in a row with the new certificate
        // (right after a reload, nginx's old workers still take a few connections with the old one).
        foreach (var (probe, node) in https)
            await probe.WaitForAsync(s => s.Ok && probe.Samples.Where(x => x.At <= s.At).TakeLast(10) is var last && last.Count() == 10
                    && last.All(x => x.Ok && x.Certificate == second.Serial), served, TimeSpan.FromSeconds(30),
                $"ten answers in a row with the new certificate through {node.Name}", s => s.ToString());

        // A malformed replacement (the old key with the new certificate): each node says why in its status and an Event,
        // and keeps serving the last good certificate.
        var broken = DateTimeOffset.UtcNow;
        ApplyTlsSecret(second.Certificate, first.Key);
        foreach (var node in lab.Balancers)
            await Eventually.Until(() => _k.Run("get", "nhc", node.Name, "-o", "jsonpath={.status.nginx.lastError}").Output,
                e => e.Contains("tls.secretName: Secret edge/web-tls: tls.key: not the private key of the certificate", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), $"{node.Name}: the status names the bad Secret");
        var events = _k.Ok("get", "events.v1.events.k8s.io", "-n", "default", "-o", "jsonpath={range .items[*]}{.regarding.name} {.reason} {.note}{\"\\n\"}{end}");
        foreach (var node in lab.Balancers)
            Assert.Contains(events.Split('\n'), l => l.StartsWith($"{node.Name} ConfigRejected ", StringComparison.Ordinal) && l.Contains("edge/web-tls", StringComparison.Ordinal));
        Assert.DoesNotContain(first.Key.Split('\n')[1], events);
        var after = DateTimeOffset.UtcNow;
        foreach (var (probe, node) in https)
        {
            await probe.WaitForAsync(s => s.Ok && s.Certificate == second.Serial, after, TimeSpan.FromSeconds(10), $"{node.Name} still serves", s => s.ToString());
            Assert.DoesNotContain(probe.Between(broken, DateTimeOffset.UtcNow), s => !s.Ok || s.Certificate != second.Serial);
        }
    }
}
