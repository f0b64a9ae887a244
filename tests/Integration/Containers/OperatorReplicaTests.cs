using NginxHa.Integration.Tests.Kubernetes;
using NginxHa.Integration.Tests.Support;
using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The chart's operator Deployment at its 2 replicas (issue 11 §1, §2): two pods from the operator image, each translated
/// from the Deployment <c>helm template</c> renders (args, env, security context, probes) and run by podman in place of a
/// kubelet, against the test cluster. Leader election, hand-over on a kill and on a clean stop, container restarts and
/// the probes during an API outage, observed through a watch of the Lease, the replicas' log lines and their HTTP answers.
/// </summary>
[Collection(ChartPodCollection.Name)]
public sealed class OperatorReplicaTests(CrdCluster cluster, ContainerImages images)
{
    readonly KubeCluster _k = cluster.Server;
    static string Prefix(string tag) => $"{tag}{Environment.ProcessId % 100:00}";

    const string Leads = " leads (Lease nginx-ha/nginx-ha-operator)";
    const string Applied = "NodeHaConfig orlb1: applied";

    PodSpec Rendered() => ChartRender.DeploymentPod(ChartRender.OperatorImageTag(images.OperatorTag));

    [Fact]
    public async Task TwoChartOperatorPods_OneLeadsAndWrites_AStoppedLeaderHandsOverAtOnce_ARestartedContainerRejoinsAsFollower_AndLeadsWithinTheLeaseWhenTheOtherIsKilled()
    {
        using var watch = new LeaseWatch(_k.Kubeconfig, OperatorReplicas.LeaseNamespace, OperatorReplicas.LeaseName);
        using var replicas = new OperatorReplicas(_k, Rendered(), Prefix("or"));
        string Diagnosis() => $"{replicas.Describe()}\nLease:\n{string.Join("\n", watch.Seen.TakeLast(12))}";
        try
        {
            var (leader, follower) = await StartAndElectAsync(replicas, watch, Diagnosis);
            // Exactly one holds the Lease; the other has seen it lead and waits.
            await Eventually.Until(follower.Logs, l => l.Contains($"the leader is {leader.Name}", StringComparison.Ordinal), TimeSpan.FromSeconds(30),
                $"{follower} sees {leader} lead\n{Diagnosis()}");

            // Only the leader writes: the NodeHaConfig comes from it; the follower is ready but has reconciled nothing.
            _k.Ok("apply", "-f", _k.WriteManifest("or-site.yaml", Site("198.18.0.210/24")));
            await WaitWrittenAsync("198.18.0.210/24", Diagnosis);
            // The line follows the write (and podman's log follows the process).
            await Eventually.Until(leader.Logs, l => l.Contains(Applied, StringComparison.Ordinal), TimeSpan.FromSeconds(10),
                $"{leader} logs its write\n{Diagnosis()}");
            Assert.Equal((1d, 0d), (leader.Metric("nginx_ha_operator_is_leader"), follower.Metric("nginx_ha_operator_is_leader")));
            Assert.True(leader.Reconciles() > 0, $"{leader} reconciled\n{Diagnosis()}");
            AssertFollowerIdle(follower, 0, Diagnosis);
            Assert.StartsWith("HTTP/1.1 200", follower.Get(follower.Readiness).Status);

            // A kubelet's stop of the leader (SIGTERM): it gives the Lease up, and the follower leads well before the lease ends.
            var stopping = DateTimeOffset.UtcNow;
            var stop = leader.Pod.Stop(OperatorReplica.Container);
            Assert.True(stop.ExitCode == 0, $"podman stop: {stop.StandardError}\n{Diagnosis()}");
            Assert.Equal("exited 0", leader.Pod.State(OperatorReplica.Container));
            Assert.Contains("released Lease nginx-ha/nginx-ha-operator", leader.Logs());
            var released = await watch.WaitForAsync(l => l.Holder == leader.Name && l.DurationSeconds == 1, stopping, TimeSpan.FromSeconds(10),
                $"released by {leader}");
            var handedOver = await watch.WaitForAsync(l => l.Holder == follower.Name, stopping, replicas.LeaseDuration, $"taken by {follower}");
            var stopHandover = handedOver.At - stopping;
            Assert.True(stopHandover < replicas.LeaseDuration / 2,
                $"{follower} led {stopHandover.TotalSeconds:F1} s after the stop began (lease {replicas.LeaseDuration.TotalSeconds} s)\n{Diagnosis()}");
            await Eventually.Until(follower.Logs, l => l.Contains(follower.Name + Leads, StringComparison.Ordinal), TimeSpan.FromSeconds(10),
                $"{follower} logs that it leads\n{Diagnosis()}");

            // The stopped container started again in its pod (same name, so the same identity): a follower of the new leader.
            var restartedFrom = leader.Logs().Length;
            var restart = leader.Pod.Restart(OperatorReplica.Container);
            Assert.True(restart.ExitCode == 0, $"podman restart: {restart.StandardError}\n{Diagnosis()}");
            await OperatorReplicas.WaitReadyAsync(leader, TimeSpan.FromSeconds(90), Diagnosis);
            await Eventually.Until(() => leader.LogsSince(restartedFrom), l => l.Contains($"the leader is {follower.Name}", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), $"the restarted {leader} sees {follower} lead\n{Diagnosis()}");
            Assert.Equal(0d, leader.Metric("nginx_ha_operator_is_leader"));
            Assert.DoesNotContain(Leads, leader.LogsSince(restartedFrom));
            Assert.Equal(follower.Name, watch.Seen[^1].Holder);

            // The new leader dies at once (SIGKILL): nothing gives the Lease up, so the restarted replica takes it when the
            // lease runs out, and writes a change made after the kill.
            var killedFrom = leader.Logs().Length;
            var killed = DateTimeOffset.UtcNow;
            follower.Pod.Kill(OperatorReplica.Container);
            _k.Ok("apply", "-f", _k.WriteManifest("or-site.yaml", Site("198.18.0.211/24")));
            var takeover = await watch.WaitForAsync(l => l.Holder == leader.Name, killed, replicas.LeaseDuration * 2, $"taken by {leader}");
            var exit = await follower.Pod.WaitForExitAsync(OperatorReplica.Container, TimeSpan.FromSeconds(10));
            Assert.Equal(137, exit);
            // Renewals seen after the kill would be the dead process's: there are none; the last one is where the lease ran from.
            var lastRenewal = watch.Seen.Last(l => l.Holder == follower.Name && l.At < takeover.At);
            var sinceRenewal = takeover.At.UtcDateTime - DateTime.SpecifyKind(lastRenewal.RenewTime!.Value, DateTimeKind.Utc);
            var killHandover = takeover.At - killed;
            Assert.True(sinceRenewal >= replicas.LeaseDuration - TimeSpan.FromMilliseconds(500),
                $"{leader} took the Lease {sinceRenewal.TotalSeconds:F1} s after its last renewal, before the {replicas.LeaseDuration.TotalSeconds} s lease ran out");
            // The lease plus at most one retry period to see the last renewal and one to try again (and a second of load).
            Assert.True(killHandover <= replicas.LeaseDuration + 2 * replicas.RetryPeriod + TimeSpan.FromSeconds(1),
                $"{leader} led {killHandover.TotalSeconds:F1} s after the kill (lease {replicas.LeaseDuration.TotalSeconds} s, retry {replicas.RetryPeriod.TotalSeconds} s)\n{Diagnosis()}");
            await WaitWrittenAsync("198.18.0.211/24", Diagnosis);
            await Eventually.Until(() => leader.LogsSince(killedFrom), l => l.Contains(Applied, StringComparison.Ordinal), TimeSpan.FromSeconds(10),
                $"{leader} logs its write after the kill\n{Diagnosis()}");
            Assert.Equal(1d, leader.Metric("nginx_ha_operator_is_leader"));

            Console.WriteLine($"operator replicas: a SIGTERM'd leader released the Lease {(released.At - stopping).TotalMilliseconds:F0} ms after the " +
                              $"stop began, {follower} led after {stopHandover.TotalMilliseconds:F0} ms; a SIGKILL'd leader: {leader} led " +
                              $"{killHandover.TotalSeconds:F1} s after the kill, {sinceRenewal.TotalSeconds:F1} s after the last renewal " +
                              $"(lease {replicas.LeaseDuration.TotalSeconds} s, retry period {replicas.RetryPeriod.TotalSeconds} s)");
            foreach (var r in replicas.All) AssertNoStackTrace(r);
        }
        finally
        {
            CleanUp();
        }
    }

    [Fact]
    public async Task TwoChartOperatorPods_DuringAnApiOutage_AreLiveAndReady_TheLeaderStopsLeading_ARestartedOneIsNotReadyUntilItSyncs_AndAfterwardsOnlyTheLeaderWrites()
    {
        using var watch = new LeaseWatch(_k.Kubeconfig, OperatorReplicas.LeaseNamespace, OperatorReplicas.LeaseName);
        using var replicas = new OperatorReplicas(_k, Rendered(), Prefix("os"));
        string Diagnosis() => $"{replicas.Describe()}\nLease:\n{string.Join("\n", watch.Seen.TakeLast(12))}";
        var serverStopped = false;
        try
        {
            var (leader, follower) = await StartAndElectAsync(replicas, watch, Diagnosis);
            _k.Ok("apply", "-f", _k.WriteManifest("or-site.yaml", Site("198.18.0.210/24")));
            await WaitWrittenAsync("198.18.0.210/24", Diagnosis);

            // The API server goes away. The leader cannot renew: it stops leading within its renew deadline (2/3 of the lease).
            var leaderFrom = leader.Logs().Length;
            var stopped = DateTimeOffset.UtcNow;
            _k.StopApiServer();
            serverStopped = true;
            await Eventually.Until(() => leader.LogsSince(leaderFrom), l => l.Contains("stopped leading", StringComparison.Ordinal),
                replicas.LeaseDuration * 2, $"{leader} stops leading without the API\n{Diagnosis()}");
            var stoppedLeading = DateTimeOffset.UtcNow - stopped;
            Assert.Equal(0d, leader.Metric("nginx_ha_operator_is_leader"));
            // What the kubelet sees meanwhile: both live (a restart would not bring the API back) and both ready (their
            // caches were synced; a ready standby keeps a rollout going).
            foreach (var r in replicas.All)
            {
                Assert.Equal(("HTTP/1.1 200 OK", "ok\n"), r.Get(r.Liveness));
                Assert.Equal(("HTTP/1.1 200 OK", "ready\n"), r.Get(r.Readiness));
            }

            // The follower's container restarted during the outage (a kubelet's restart): live, but not ready until its
            // informers have listed, which needs the API.
            var restartedFrom = follower.Logs().Length;
            var restart = follower.Pod.Restart(OperatorReplica.Container);
            Assert.True(restart.ExitCode == 0, $"podman restart: {restart.StandardError}\n{Diagnosis()}");
            await Eventually.Until(() => follower.Get(follower.Liveness).Status, s => s.StartsWith("HTTP/1.1 200", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), $"the restarted {follower} answers /healthz\n{Diagnosis()}");
            var notReady = follower.Get(follower.Readiness);
            Assert.StartsWith("HTTP/1.1 503", notReady.Status);
            Assert.StartsWith("not ready: caches not synced: ", notReady.Body);

            var reconcilesBefore = replicas.All.ToDictionary(r => r, r => r.Reconciles());
            _k.StartApiServer();
            serverStopped = false;
            var serverBack = DateTime.UtcNow;
            await OperatorReplicas.WaitReadyAsync(follower, TimeSpan.FromSeconds(120), Diagnosis);
            // The watch opened again shows the Lease as the outage left it: a renewal since the server is back is a leader.
            var back = await watch.WaitForAsync(l => replicas.All.Any(r => r.Name == l.Holder) && l.RenewTime >= serverBack, stopped,
                replicas.LeaseDuration * 4, "renewed by a replica after the outage");
            var newLeader = replicas.Named(back.Holder);
            var standby = replicas.Other(newLeader);
            var standbyFrom = standby.Logs().Length;
            var standbyReconciles = standby.Reconciles();

            // A change after the outage: written by the leader alone; the standby stays ready and reconciles nothing.
            _k.Ok("apply", "-f", _k.WriteManifest("or-site.yaml", Site("198.18.0.212/24")));
            await WaitWrittenAsync("198.18.0.212/24", Diagnosis);
            await Eventually.Until(newLeader.Logs, l => l.Contains(Applied, StringComparison.Ordinal), TimeSpan.FromSeconds(10),
                $"{newLeader} logs its write\n{Diagnosis()}");
            Assert.Equal((1d, 0d), (newLeader.Metric("nginx_ha_operator_is_leader"), standby.Metric("nginx_ha_operator_is_leader")));
            AssertFollowerIdle(standby, standbyFrom, Diagnosis);
            Assert.Equal(standbyReconciles, standby.Reconciles());
            Assert.StartsWith("HTTP/1.1 200", standby.Get(standby.Readiness).Status);

            Console.WriteLine($"operator replicas, API outage: {leader} logged that it stopped leading {stoppedLeading.TotalSeconds:F1} s after the " +
                              $"server stopped (renew deadline {(replicas.LeaseDuration * 2 / 3).TotalSeconds} s); /healthz 200 and /readyz 200 on both; " +
                              $"the restarted {follower}: /healthz 200, /readyz 503 \"{notReady.Body.Trim()}\" until the server was back; " +
                              $"reconciles before the change {string.Join(", ", reconcilesBefore.Select(p => $"{p.Key} {p.Value}"))}; then {newLeader} led");
            foreach (var r in replicas.All) AssertNoStackTrace(r);
        }
        finally
        {
            if (serverStopped) _k.StartApiServer();
            CleanUp();
        }
    }

    /// <summary>A follower writes nothing: no NodeHaConfig, no finalizer, no status, and counts no reconcile since <paramref name="from"/>.</summary>
    static void AssertFollowerIdle(OperatorReplica follower, int from, Func<string> diagnosis)
    {
        var logs = follower.LogsSince(from);
        Assert.DoesNotContain(Leads, logs);
        Assert.DoesNotContain("NodeHaConfig ", logs);
        Assert.DoesNotContain(": finalizers [", logs);
        if (from == 0) Assert.True(follower.Reconciles() == 0, $"{follower} reconciled while following\n{diagnosis()}");
    }

    static void AssertNoStackTrace(OperatorReplica replica)
    {
        var logs = replica.Logs();
        Assert.DoesNotContain("Unhandled exception", logs);
        Assert.DoesNotContain(logs.Split('\n'), l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    Task WaitWrittenAsync(string vip, Func<string> diagnosis) => Eventually.Until(
        () => _k.Run("get", "nhc", "orlb1", "-o", "jsonpath={.spec.vrrpInstances[0].name} {.spec.vrrpInstances[0].virtualIPs[0]}").Output.Trim(),
        s => s == $"edge/orweb/0 {vip}", TimeSpan.FromSeconds(60), $"orlb1's NodeHaConfig with {vip} written by the leader\n{diagnosis()}");

    /// <summary>Starts both replicas and waits until both are ready and one of them holds the Lease.</summary>
    static async Task<(OperatorReplica Leader, OperatorReplica Follower)> StartAndElectAsync(OperatorReplicas replicas, LeaseWatch watch, Func<string> diagnosis)
    {
        replicas.StartAll();
        foreach (var r in replicas.All) await OperatorReplicas.WaitReadyAsync(r, TimeSpan.FromSeconds(90), diagnosis);
        var first = await watch.WaitForAsync(l => replicas.All.Any(r => r.Name == l.Holder), DateTimeOffset.MinValue, TimeSpan.FromSeconds(60),
            "held by a replica");
        var leader = replicas.Named(first.Holder);
        return (leader, replicas.Other(leader));
    }

    /// <summary>While a leader may still run, so it removes its finalizers; then whatever is left.</summary>
    void CleanUp()
    {
        _k.Run("delete", "-f", _k.WriteManifest("or-site.yaml", Site("198.18.0.210/24")), "--ignore-not-found", "--timeout=30s");
        foreach (var kind in new[] { "virtualipgroup", "nginxbackendpool" })
        {
            // A group whose finalizer no operator is left to remove would stay: take the finalizer off by hand.
            _k.Run("patch", kind, "orweb", "-n", "edge", "--type", "merge", "-p", """{"metadata":{"finalizers":null}}""");
            _k.Run("delete", kind, "orweb", "-n", "edge", "--ignore-not-found", "--timeout=30s");
        }
        _k.Run("delete", "nhc", "orlb1", "--ignore-not-found", "--timeout=30s");
        _k.Run("delete", "lease", "-n", OperatorReplicas.LeaseNamespace, OperatorReplicas.LeaseName, "--ignore-not-found");
    }

    static string Site(string vip) => OperatorPodSite.Manifest("or", vip, vrid: 73);
}
