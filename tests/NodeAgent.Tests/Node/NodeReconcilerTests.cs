using System.Net;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Node;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Vrrp;
using CoreInstance = NginxHa.Core.Resources.VrrpInstanceConfig;

namespace NginxHa.NodeAgent.Tests.Node;

/// <summary>The node reconciler over in-memory instances, nginx and host facts: what starts, changes, stops and faults.</summary>
public sealed class NodeReconcilerTests : IAsyncDisposable
{
    static readonly DateTimeOffset T0 = new(2026, 12, 2, 6, 0, 0, TimeSpan.Zero);

    readonly FakeTimeProvider _clock = new(T0);
    readonly FakeHost _host = new();
    readonly FakeInstanceHost _instances = new();
    readonly FakeNginx _nginx = new();
    readonly List<string> _log = [];
    readonly NodeReconciler _reconciler;

    public NodeReconcilerTests()
    {
        _nginx.Instances = _instances;
        _reconciler = new NodeReconciler(NginxRuntimeOptions.UnderDirectory("/run/nginx-ha/lb1/nginx", 18080) with { PidFile = null },
            _host, _instances, _nginx, _clock, l => { lock (_log) _log.Add(l); });
    }

    public async ValueTask DisposeAsync() => await _reconciler.DisposeAsync();

    static CoreInstance Instance(string name, int vrid, int priority = 200, params string[] vips) => new()
    {
        Name = name, Group = "edge/web", VirtualRouterId = vrid, Priority = priority, Version = 3, AdvertisementInterval = "100ms",
        VirtualIPs = vips.Length > 0 ? [.. vips] : [$"198.18.0.{200 + vrid % 50}/24"],
    };

    static NodeConfigUpdate Config(params CoreInstance[] instances) => new(new NodeHaConfig
    {
        Metadata = { Name = "lb1" },
        Spec = new NodeHaConfigSpec
        {
            NodeName = "lb1",
            VrrpInstances = [.. instances],
            BackendPools =
            [
                new BackendPoolConfig
                {
                    Name = "edge/web",
                    Spec = new NginxBackendPoolSpec
                    {
                        Backends = new() { Servers = [new() { Address = "198.18.0.21", Port = 8080 }] },
                    },
                },
            ],
        },
    }, NodeSecrets.None, "test");

    async Task<ReconcileResult> Apply(NodeConfigUpdate update)
    {
        var result = await _reconciler.ApplyAsync(update, CancellationToken.None);
        return result;
    }

    [Fact]
    public async Task A_config_starts_every_instance_on_the_interface_of_its_vips_and_renders_nginx_first()
    {
        var result = await Apply(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)));

        Assert.Equal(ReconcileOutcome.Applied, result.Outcome);
        Assert.Equal(["edge/web/0", "edge/web/1"], _instances.Started.Select(i => i.Plan.Name));
        Assert.All(_instances.Started, i => Assert.Equal("eth0", i.Plan.Interface));
        var applied = Assert.Single(_nginx.Applied);
        Assert.Contains("server 198.18.0.21:8080", applied);
        Assert.True(_nginx.AppliedBeforeFirstStart, "nginx got its config before the first VRRP instance started");
    }

    [Fact]
    public async Task An_instance_started_while_nginx_cannot_serve_starts_in_fault_and_every_instance_follows_nginx()
    {
        _nginx.Set(NginxHealth.Failed);
        await Apply(Config(Instance("edge/web/0", 51)));
        Assert.True(_instances.Started[0].StartedInFault);

        _nginx.Set(NginxHealth.Healthy);
        await Apply(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)));
        Assert.Equal([false], _instances.Started[0].Faults);
        Assert.False(_instances.Started[1].StartedInFault);

        _nginx.Set(NginxHealth.Down);
        Assert.All(_instances.Started, i => Assert.True(i.Faults.Last()));
    }

    [Fact]
    public async Task A_health_change_during_an_instance_start_is_not_lost()
    {
        // nginx fails (on the supervisor's thread) while the host is opening the instance's sockets. The start returns
        // only once that change is under way: blocked on the reconciler's lock (registration and fault check are one
        // step) or already done (they are not, and the new instance would miss it).
        Thread? change = null;
        _instances.DuringStart = () =>
        {
            change = new Thread(() => _nginx.Set(NginxHealth.Failed));
            change.Start();
            Assert.True(SpinWait.SpinUntil(() => change.ThreadState is ThreadState.WaitSleepJoin or ThreadState.Stopped, TimeSpan.FromSeconds(10)));
        };
        await Apply(Config(Instance("edge/web/0", 51)));
        change!.Join();
        var instance = Assert.Single(_instances.Started);
        Assert.True(instance.StartedInFault || instance.Faults.LastOrDefault(), "the instance started during the change is in FAULT");
    }

    [Fact]
    public async Task A_removed_instance_is_stopped_and_the_others_are_untouched()
    {
        await Apply(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)));
        await Apply(Config(Instance("edge/web/0", 51)));

        Assert.True(_instances.Started[1].Disposed);
        Assert.False(_instances.Started[0].Disposed);
        Assert.Empty(_instances.Started[0].Updates);
        Assert.Equal(2, _instances.Started.Count);
        Assert.Contains(_log, l => l == "edge/web/1: removed; stopping");
    }

    [Theory]
    [InlineData("priority")]
    [InlineData("interval")]
    [InlineData("preempt")]
    [InlineData("added vip")]
    public async Task A_change_rfc_5798_allows_in_place_is_applied_to_the_running_instance(string change)
    {
        var before = Instance("edge/web/0", 51, 200, "198.18.0.201/24");
        await Apply(Config(before));
        var after = Instance("edge/web/0", 51, 200, "198.18.0.201/24");
        switch (change)
        {
            case "priority": after.Priority = 150; break;
            case "interval": after.AdvertisementInterval = "200ms"; break;
            case "preempt": after.Preempt = false; break;
            case "added vip": after.VirtualIPs.Add("198.18.0.205/24"); break;
        }
        await Apply(Config(after));

        var running = Assert.Single(_instances.Started);
        Assert.False(running.Disposed);
        var update = Assert.Single(running.Updates);
        Assert.Equal(update, _reconciler.Running["edge/web/0"]);
    }

    [Theory]
    [InlineData("vrid")]
    [InlineData("removed vip")]
    [InlineData("interface")]
    [InlineData("address owner")]
    public async Task Any_other_change_restarts_the_instance(string change)
    {
        var before = Instance("edge/web/0", 51, 200, "198.18.0.201/24", "198.18.0.202/24");
        await Apply(Config(before));
        var after = Instance("edge/web/0", 51, 200, "198.18.0.201/24", "198.18.0.202/24");
        switch (change)
        {
            case "vrid": after.VirtualRouterId = 52; break;
            case "removed vip": after.VirtualIPs.RemoveAt(1); break;
            case "interface": after.Interface = "eth1"; break;
            case "address owner": after.Priority = 255; break;
        }
        await Apply(Config(after));

        Assert.Equal(2, _instances.Started.Count);
        Assert.True(_instances.Started[0].Disposed);
        Assert.Empty(_instances.Started[0].Updates);
        Assert.False(_instances.Started[1].Disposed);
        Assert.Contains(_log, l => l == "edge/web/0: changed; restarting");
    }

    [Fact]
    public async Task An_unchanged_config_touches_nothing()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        await Apply(Config(Instance("edge/web/0", 51)));
        var running = Assert.Single(_instances.Started);
        Assert.False(running.Disposed);
        Assert.Empty(running.Updates);
    }

    [Fact]
    public async Task A_config_nginx_rejects_changes_no_instance_and_is_reported()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        _nginx.Reject = "unknown directive \"bogus\" in nginx.conf:3";

        var result = await Apply(Config(Instance("edge/web/1", 52)));

        Assert.Equal(ReconcileOutcome.Rejected, result.Outcome);
        Assert.Equal("nginx -t: unknown directive \"bogus\" in nginx.conf:3", Assert.Single(result.Problems));
        Assert.False(_instances.Started.Single().Disposed);
        Assert.Equal("unknown directive \"bogus\" in nginx.conf:3", _reconciler.Status.Nginx!.LastError);
        Assert.Contains(_log, l => l.StartsWith("config rejected (test): nginx -t: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_config_this_host_cannot_run_is_rejected_before_nginx_or_any_instance_is_touched()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        var result = await Apply(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52, 200, "203.0.113.7/24")));

        Assert.Equal(ReconcileOutcome.Rejected, result.Outcome);
        Assert.Equal("edge/web/1: interface: no interface has an address in the same subnet as 203.0.113.7; set spec.interface",
            Assert.Single(result.Problems));
        Assert.Single(_nginx.Applied);
        Assert.Single(_instances.Started);
    }

    [Fact]
    public async Task The_host_facts_are_read_at_each_apply()
    {
        _host.Addresses_ = [new("lo", IPAddress.Loopback, 8)];
        Assert.Equal(ReconcileOutcome.Rejected, (await Apply(Config(Instance("edge/web/0", 51)))).Outcome);
        _host.Addresses_ = [new("eth7", IPAddress.Parse("198.18.0.11"), 24)];
        Assert.Equal(ReconcileOutcome.Applied, (await Apply(Config(Instance("edge/web/0", 51)))).Outcome);
        Assert.Equal("eth7", _instances.Started.Single().Plan.Interface);
    }

    [Fact]
    public async Task An_instance_the_host_cannot_set_up_is_reported_and_the_others_run()
    {
        _instances.Refuse = "edge/web/1";
        var result = await Apply(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)));

        Assert.Equal(ReconcileOutcome.PartlyApplied, result.Outcome);
        Assert.Equal("edge/web/1: interface: no such interface", Assert.Single(result.Problems));
        Assert.Equal(["edge/web/0"], _reconciler.Running.Keys);
    }

    [Fact]
    public async Task A_rejection_from_the_source_is_logged_and_changes_nothing()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        var result = await _reconciler.HandleAsync(new NodeConfigRejected(["site.yaml:3: bad"], "site.yaml changed"), CancellationToken.None);
        Assert.Equal(ReconcileOutcome.Rejected, result.Outcome);
        Assert.Contains(_log, l => l == "config rejected (site.yaml changed): 1 error(s); the last good config keeps serving");
        Assert.Contains(_log, l => l == "config rejected: site.yaml:3: bad");
        Assert.False(_instances.Started.Single().Disposed);
    }

    [Fact]
    public async Task Status_reports_each_instance_and_nginx_and_is_signalled_on_every_change()
    {
        int changes = 0;
        _reconciler.StatusChanged += () => Interlocked.Increment(ref changes);
        _nginx.Set(NginxHealth.Healthy);
        await Apply(Config(Instance("edge/web/1", 52), Instance("edge/web/0", 51)));
        int afterApply = changes;
        Assert.True(afterApply >= 1);

        _clock.Advance(TimeSpan.FromSeconds(5));
        _instances.Started.Single(i => i.Plan.Name == "edge/web/0").Transition(VrrpState.Master, IPAddress.Parse("198.18.0.11"));
        Assert.Equal(afterApply + 1, changes);

        var status = _reconciler.Status;
        Assert.Equal(["edge/web/0", "edge/web/1"], status.Instances.Select(i => i.Name));
        var master = status.Instances[0];
        Assert.Equal(VrrpInstanceState.Master, master.State);
        Assert.Equal("198.18.0.11", master.Master);
        Assert.Equal(1, master.Transitions);
        Assert.Equal(T0 + TimeSpan.FromSeconds(5), master.LastTransitionTime);
        Assert.Equal(VrrpInstanceState.Initialize, status.Instances[1].State);
        Assert.Null(status.Instances[1].LastTransitionTime);
        Assert.Equal(NginxState.Running, status.Nginx!.State);
        Assert.Equal(T0, status.Nginx.LastReload);

        _nginx.Set(NginxHealth.Failed);
        Assert.Equal(afterApply + 2, changes);
        Assert.Equal(NginxState.Failed, _reconciler.Status.Nginx!.State);
    }

    [Fact]
    public async Task An_instance_that_dies_shows_as_fault_is_logged_and_ends_the_agent()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        _instances.Started[0].Die(new InvalidOperationException("socket closed"));
        var why = await _reconciler.InstanceFailed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("edge/web/0: the VRRP speaker failed and stopped (InvalidOperationException: socket closed)", why);
        Assert.Contains(_log, l => l == why);
        Assert.Equal(VrrpInstanceState.Fault, _reconciler.Status.Instances.Single().State);
    }

    [Fact]
    public async Task Stop_stops_every_instance_and_unhooks_nginx()
    {
        await Apply(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)));
        await _reconciler.StopAsync();
        Assert.All(_instances.Started, i => Assert.True(i.Disposed));
        _nginx.Set(NginxHealth.Failed);
        Assert.All(_instances.Started, i => Assert.Empty(i.Faults));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Apply(Config(Instance("edge/web/0", 51))));
    }

    // Priority 200 at 100 ms: Skew_Time = 56 * 100 ms / 256 = 21.875 ms, the hand-over time.
    static readonly TimeSpan Skew200 = TimeSpan.FromTicks(56 * TimeSpan.FromMilliseconds(100).Ticks / 256);

    [Fact]
    public async Task Nginx_back_within_the_handover_time_keeps_the_vips()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        var instance = _instances.Started.Single();
        _nginx.Exit();
        _nginx.Set(NginxHealth.Restarting);
        _clock.Advance(Skew200 - TimeSpan.FromTicks(1));
        _nginx.Set(NginxHealth.Healthy);
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.DoesNotContain(true, instance.Faults);
        Assert.Contains(_log, l => l.Contains("back within the hand-over time"));
    }

    [Fact]
    public async Task Nginx_restarting_longer_than_the_handover_time_faults_when_the_skew_time_is_spent()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        var instance = _instances.Started.Single();
        _nginx.Set(NginxHealth.Restarting);
        _clock.Advance(Skew200 - TimeSpan.FromTicks(1));
        Assert.DoesNotContain(true, instance.Faults);
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal([true], instance.Faults);

        // The restart succeeds later: the node rejoins.
        _nginx.Set(NginxHealth.Healthy);
        Assert.Equal([true, false], instance.Faults);
    }

    [Fact]
    public async Task A_master_exit_reaches_vrrp_even_while_no_health_change_can_come()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        var instance = _instances.Started.Single();
        _nginx.Exit(); // no health change follows (yet): the exit alone starts the hand-over budget
        _clock.Advance(Skew200);
        Assert.Equal([true], instance.Faults);
    }

    [Fact]
    public async Task The_handover_time_is_the_shortest_skew_time_of_the_nodes_instances()
    {
        var slow = Instance("edge/web/1", 52, 200);
        slow.AdvertisementInterval = "1s";
        await Apply(Config(Instance("edge/web/0", 51, 254), slow));
        _nginx.Exit();
        var skew254 = TimeSpan.FromTicks(2 * TimeSpan.FromMilliseconds(100).Ticks / 256); // 0.78 ms
        _clock.Advance(skew254 - TimeSpan.FromTicks(1));
        Assert.All(_instances.Started, i => Assert.Empty(i.Faults));
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.All(_instances.Started, i => Assert.Equal([true], i.Faults));
    }

    [Fact]
    public async Task Nginx_down_or_failed_faults_at_once()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        _nginx.Exit();
        _nginx.Set(NginxHealth.Down);
        Assert.Equal([true], _instances.Started.Single().Faults);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([true], _instances.Started.Single().Faults);
    }

    [Fact]
    public async Task A_reload_that_fails_at_runtime_is_reported_as_failed()
    {
        await Apply(Config(Instance("edge/web/0", 51)));
        _nginx.Reject = "bind() to 0.0.0.0:80 failed (98: Address already in use)";
        _nginx.RejectAs = ConfigApplyOutcome.ReloadFailed;
        var result = await Apply(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)));
        Assert.Equal(ReconcileOutcome.Rejected, result.Outcome);
        Assert.Equal("nginx reload: bind() to 0.0.0.0:80 failed (98: Address already in use)", Assert.Single(result.Problems));
        Assert.Single(_instances.Started);
        Assert.Equal(_nginx.Reject, _reconciler.Status.Nginx!.LastError);
    }

    [Fact]
    public async Task The_status_publisher_writes_the_first_change_at_once_then_at_most_once_an_interval_with_the_latest()
    {
        var writer = new RecordingWriter();
        await using var publisher = new NodeStatusPublisher(_reconciler, writer, _clock, TimeSpan.FromSeconds(1), l => { lock (_log) _log.Add(l); });
        await Apply(Config(Instance("edge/web/0", 51)));
        Assert.Single(writer.Written);

        var instance = _instances.Started.Single();
        foreach (var state in new[] { VrrpState.Backup, VrrpState.Master, VrrpState.Backup, VrrpState.Master })
            instance.Transition(state, IPAddress.Parse("198.18.0.11"));
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Single(writer.Written);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await WaitFor(() => writer.Written.Count == 2);
        var latest = writer.Written[1].Instances.Single();
        Assert.Equal(VrrpInstanceState.Master, latest.State);
        Assert.Equal(4, latest.Transitions);
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(2, writer.Written.Count);
        Assert.Equal(2, publisher.Writes);
    }

    [Fact]
    public async Task Routers_heard_on_the_wire_are_in_the_status_a_change_is_written_within_the_interval_and_a_forgotten_one_leaves()
    {
        var writer = new RecordingWriter();
        using var heard = new HeardRouters(_clock);
        await using var publisher = new NodeStatusPublisher(_reconciler, writer, _clock, TimeSpan.FromSeconds(1), l => { lock (_log) _log.Add(l); }, heard);
        await Apply(Config(Instance("edge/web/0", 51)));
        Assert.Empty(writer.Written.Single().HeardRouters);

        var foreign = new VrrpAdvertisement(VrrpVersion.V2, 51, 150, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.9.9")]);
        heard.Record("eth0", IPAddress.Parse("198.18.0.5"), foreign);
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Single(writer.Written); // rate-limited like every other change
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await WaitFor(() => writer.Written.Count == 2);
        Assert.Equal("eth0 IPv4 51 v2 198.18.9.9 p150 None",
            writer.Written[1].HeardRouters.Select(r => $"{r.Interface} {r.Family} {r.VirtualRouterId} v{r.Version} {string.Join(",", r.Addresses)} p{r.Priority} {r.AuthType}").Single());

        // The same adverts again and again are no change: no write.
        for (var i = 0; i < 5; i++)
        {
            heard.Record("eth0", IPAddress.Parse("198.18.0.5"), foreign);
            _clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(2, writer.Written.Count);

        // It falls silent: once forgotten, one more write without it.
        _clock.Advance(HeardRouters.Forget + HeardRouters.SweepInterval);
        await WaitFor(() => writer.Written.Count == 3);
        Assert.Empty(writer.Written[2].HeardRouters);
    }

    [Fact]
    public async Task A_failed_status_write_is_logged_and_retried_after_the_interval()
    {
        var writer = new RecordingWriter { FailuresLeft = 1 };
        await using var publisher = new NodeStatusPublisher(_reconciler, writer, _clock, TimeSpan.FromSeconds(1), l => { lock (_log) _log.Add(l); });
        await Apply(Config(Instance("edge/web/0", 51)));
        Assert.Empty(writer.Written);
        Assert.Contains(_log, l => l.StartsWith("status: writing the node's status failed, retrying in 1 s: ", StringComparison.Ordinal));

        _clock.Advance(TimeSpan.FromSeconds(1));
        await WaitFor(() => writer.Written.Count == 1);
        Assert.Equal("edge/web/0", writer.Written[0].Instances.Single().Name);
    }

    [Fact]
    public async Task After_a_clean_stop_the_final_status_is_written_at_once_even_within_the_interval()
    {
        var writer = new RecordingWriter();
        await using var publisher = new NodeStatusPublisher(_reconciler, writer, _clock, TimeSpan.FromSeconds(1), l => { lock (_log) _log.Add(l); });
        await Apply(Config(Instance("edge/web/0", 51)));
        _instances.Started.Single().Transition(VrrpState.Master, IPAddress.Parse("198.18.0.11"));
        await WaitFor(() => writer.Written.Count == 1); // the first write; the Master one waits for the interval
        await _reconciler.StopAsync();

        Assert.True(await publisher.WriteFinalAsync(TimeSpan.FromSeconds(2)));
        Assert.Equal(2, writer.Written.Count);
        Assert.Empty(writer.Written[1].Instances); // holds nothing: no MASTER left behind for the operator to count
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(2, writer.Written.Count); // and nothing after it
    }

    [Fact]
    public async Task The_final_status_gives_up_after_its_timeout_when_the_api_server_does_not_answer()
    {
        var writer = new RecordingWriter { Hang = true };
        await using var publisher = new NodeStatusPublisher(_reconciler, writer, _clock, TimeSpan.FromSeconds(1), l => { lock (_log) _log.Add(l); });
        await _reconciler.StopAsync();
        var final = publisher.WriteFinalAsync(TimeSpan.FromSeconds(2));
        _clock.Advance(TimeSpan.FromMilliseconds(1999));
        await Task.Delay(20);
        Assert.False(final.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(await final.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains(_log, l => l == "status: the final status (nothing held) was not written: no answer within 2 s");
    }

    sealed class RecordingWriter : INodeStatusWriter
    {
        public readonly List<NodeHaConfigStatus> Written = [];
        public int FailuresLeft;
        public bool Hang;

        public async Task WriteAsync(NodeHaConfigStatus status, CancellationToken cancellationToken)
        {
            if (Hang) await Task.Delay(Timeout.Infinite, cancellationToken);
            if (FailuresLeft-- > 0) throw new HttpRequestException("API server unreachable");
            lock (Written) Written.Add(status);
        }
    }

    static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met (real-time guard)");
            await Task.Delay(2);
        }
    }

    static NodeConfigUpdate WithTls(NodeConfigUpdate update, TlsKeyPair pair)
    {
        update.Config.Spec.BackendPools[0].Spec.Listeners = [new NginxListener { Port = 443, Tls = new ListenerTls { SecretName = "web-tls" } }];
        return update with { Secrets = NodeSecrets.None with { Tls = new Dictionary<string, TlsKeyPair> { ["edge/web-tls"] = pair } } };
    }

    [Fact]
    public async Task A_tls_secret_is_on_disk_before_nginx_checks_the_config_naming_it_and_the_replaced_version_goes_once_applied()
    {
        var root = Directory.CreateTempSubdirectory("nha-reconciler-tls-").FullName;
        try
        {
            var runtime = NginxRuntimeOptions.UnderDirectory(root, 18080) with { PidFile = null };
            await using var reconciler = new NodeReconciler(runtime, _host, _instances, _nginx, _clock, _ => { }, new SecretFileStore(runtime.SecretsDirectory));
            var first = TestCertificates.Pair("first");
            var second = TestCertificates.Pair("second");
            var seen = new List<string>();
            _nginx.OnCheck = config =>
            {
                var path = System.Text.RegularExpressions.Regex.Match(config, @"ssl_certificate_key (\S+);").Groups[1].Value;
                seen.Add(File.Exists(path) ? Convert.ToBase64String(File.ReadAllBytes(path)) : $"missing {path}");
            };

            Assert.Equal(ReconcileOutcome.Applied, (await reconciler.ApplyAsync(WithTls(Config(Instance("edge/web/0", 51)), first), default)).Outcome);
            Assert.Equal(ReconcileOutcome.Applied, (await reconciler.ApplyAsync(WithTls(Config(Instance("edge/web/0", 51)), second), default)).Outcome);

            Assert.Equal([Convert.ToBase64String(first.PrivateKey.Span), Convert.ToBase64String(second.PrivateKey.Span)], seen);
            // A new certificate is a new path in nginx.conf: the reload follows from the changed text.
            Assert.Contains($"{runtime.SecretsDirectory}/edge/web-tls/{second.Version}/tls.crt", _nginx.Applied[^1]);
            Assert.NotEqual(_nginx.Applied[0], _nginx.Applied[1]);
            Assert.Equal([second.Version], Directory.GetDirectories($"{runtime.SecretsDirectory}/edge/web-tls").Select(Path.GetFileName));

            // nginx refuses the next one: the files the running config names stay.
            _nginx.Reject = "SSL_CTX_use_PrivateKey failed";
            var third = TestCertificates.Pair("third");
            Assert.Equal(ReconcileOutcome.Rejected, (await reconciler.ApplyAsync(WithTls(Config(Instance("edge/web/0", 51)), third), default)).Outcome);
            Assert.True(File.Exists($"{runtime.SecretsDirectory}/edge/web-tls/{second.Version}/tls.key"), "the served key is still there");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_basic_auth_secret_is_on_disk_for_the_workers_before_nginx_checks_the_config_naming_it()
    {
        var root = Directory.CreateTempSubdirectory("nha-reconciler-auth-").FullName;
        try
        {
            var runtime = NginxRuntimeOptions.UnderDirectory(root, 18080) with { PidFile = null };
            await using var reconciler = new NodeReconciler(runtime, _host, _instances, _nginx, _clock, _ => { }, new SecretFileStore(runtime.SecretsDirectory));
            var seen = new List<string>();
            _nginx.OnCheck = config =>
            {
                var path = System.Text.RegularExpressions.Regex.Match(config, @"auth_basic_user_file (\S+);").Groups[1].Value;
                seen.Add(File.Exists(path) ? $"{File.ReadAllText(path)} {File.GetUnixFileMode(path)}" : $"missing {path}");
            };
            NodeConfigUpdate WithAuth(string htpasswd)
            {
                var update = Config(Instance("edge/web/0", 51));
                update.Config.Spec.BackendPools[0].Spec.Status = new StatusEndpoint { BasicAuth = new BasicAuth { SecretName = "ops" } };
                var file = HtpasswdFile.Check(System.Text.Encoding.UTF8.GetBytes(htpasswd), out var problem) ?? throw new InvalidOperationException(problem);
                return update with { Secrets = NodeSecrets.None with { Htpasswd = new Dictionary<string, HtpasswdFile> { ["edge/ops"] = file } } };
            }

            Assert.Equal(ReconcileOutcome.Applied, (await reconciler.ApplyAsync(WithAuth("ops:{PLAIN}one\n"), default)).Outcome);
            Assert.Equal(ReconcileOutcome.Applied, (await reconciler.ApplyAsync(WithAuth("ops:{PLAIN}two\n"), default)).Outcome);

            const UnixFileMode ForWorkers = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
            Assert.Equal([$"ops:{{PLAIN}}one\n {ForWorkers}", $"ops:{{PLAIN}}two\n {ForWorkers}"], seen);
            Assert.NotEqual(_nginx.Applied[0], _nginx.Applied[1]); // a new password is a new path: nginx reloads
            Assert.Single(Directory.GetDirectories($"{runtime.SecretsDirectory}/edge/ops")); // the old version went once applied
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_hung_instance_loop_stops_beating_so_the_heartbeat_would_stop_and_beats_again_once_it_answers()
    {
        var liveness = new AgentLiveness(_clock);
        await using var reconciler = new NodeReconciler(NginxRuntimeOptions.UnderDirectory("/run/nginx-ha/lb1/nginx", 18080) with { PidFile = null },
            _host, _instances, _nginx, _clock, _ => { }, liveness: liveness);
        await reconciler.ApplyAsync(Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)), default);
        var window = TimeSpan.FromSeconds(20);

        // Answering loops: every probe beats them; nothing is silent for the window however long it runs.
        for (int i = 0; i < 4; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(10));
            liveness.RequestProbe();
            await WaitFor(() => liveness.Stalled(TimeSpan.FromSeconds(1)).Count == 0);
        }

        // edge/web/1's loop hangs: probes go unanswered; the apply loop (idle) and edge/web/0 still beat.
        _instances.Started[1].Hang();
        _clock.Advance(TimeSpan.FromSeconds(10));
        liveness.RequestProbe();
        _clock.Advance(TimeSpan.FromSeconds(9.9));
        liveness.RequestProbe();
        await WaitFor(() => liveness.Stalled(TimeSpan.FromSeconds(1)).Count == 1);
        Assert.Empty(liveness.Stalled(window));
        _clock.Advance(TimeSpan.FromSeconds(0.1));
        liveness.RequestProbe();
        await WaitFor(() => liveness.Stalled(TimeSpan.FromSeconds(1)).Count == 1);
        Assert.Equal([("vrrp edge/web/1", window)], liveness.Stalled(window));

        // It answers again: the next beat clears it.
        _instances.Started[1].Resume();
        await WaitFor(() => liveness.Stalled(TimeSpan.FromSeconds(1)).Count == 0);

        // A removed instance's loop no longer counts, whatever it does.
        _instances.Started[0].Hang();
        await reconciler.ApplyAsync(Config(Instance("edge/web/1", 52)), default);
        _clock.Advance(window);
        liveness.RequestProbe();
        await WaitFor(() => liveness.Stalled(TimeSpan.FromSeconds(1)).Count == 0);
    }

    [Fact]
    public async Task An_apply_that_hangs_stops_the_apply_loops_beat_and_its_end_beats_again()
    {
        var liveness = new AgentLiveness(_clock);
        await using var reconciler = new NodeReconciler(NginxRuntimeOptions.UnderDirectory("/run/nginx-ha/lb1/nginx", 18080) with { PidFile = null },
            _host, _instances, _nginx, _clock, _ => { }, liveness: liveness);
        using var inCheck = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        _nginx.OnCheck = _ =>
        {
            inCheck.Release();
            release.Wait(); // nginx -t that does not return
        };
        var apply = Task.Run(() => reconciler.ApplyAsync(Config(Instance("edge/web/0", 51)), default));
        Assert.True(await inCheck.WaitAsync(TimeSpan.FromSeconds(30)), "the apply reached nginx -t");

        _clock.Advance(TimeSpan.FromSeconds(20));
        liveness.RequestProbe();
        Assert.Equal([(NodeReconciler.ApplyLoop, TimeSpan.FromSeconds(20))], liveness.Stalled(TimeSpan.FromSeconds(20)));

        release.Release();
        await apply.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Empty(liveness.Stalled(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task The_status_reports_a_generation_once_its_config_is_in_force_and_a_rejected_one_with_the_reason()
    {
        await Apply(Config(Instance("edge/web/0", 51)) with { Generation = 1 });
        var first = _reconciler.Status;
        Assert.Equal(1, first.ObservedGeneration);
        Assert.Equal(NginxConfigHash.Of(_nginx.Applied[^1]), first.Nginx!.ConfigHash);

        // Generation 2 arrives; while nginx -t runs, a status written (a VRRP transition) still says generation 1.
        using var inCheck = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        _nginx.OnCheck = _ =>
        {
            inCheck.Release();
            release.Wait();
        };
        var second = Config(Instance("edge/web/0", 51), Instance("edge/web/1", 52)) with { Generation = 2 };
        second.Config.Spec.BackendPools[0].Spec.Backends.Servers.Add(new() { Address = "198.18.0.22", Port = 8080 }); // a new nginx.conf
        var apply = Task.Run(() => _reconciler.ApplyAsync(second, default));
        Assert.True(await inCheck.WaitAsync(TimeSpan.FromSeconds(30)), "the apply reached nginx -t");
        Assert.Equal(1, _reconciler.Status.ObservedGeneration);
        Assert.Equal(first.Nginx.ConfigHash, _reconciler.Status.Nginx!.ConfigHash);
        release.Release();
        await apply.WaitAsync(TimeSpan.FromSeconds(30));
        _nginx.OnCheck = null;
        Assert.Equal(2, _reconciler.Status.ObservedGeneration);
        Assert.Equal(2, _reconciler.Status.Instances.Count);
        var inForce = _reconciler.Status.Nginx!.ConfigHash;
        Assert.NotEqual(first.Nginx.ConfigHash, inForce);

        // Generation 3 is rejected by nginx: observed, with the reason, and the config in force keeps its hash.
        _nginx.Reject = "unknown directive \"bogus\"";
        await Apply(Config(Instance("edge/web/0", 51)) with { Generation = 3 });
        Assert.Equal(3, _reconciler.Status.ObservedGeneration);
        Assert.Equal(inForce, _reconciler.Status.Nginx!.ConfigHash);
        Assert.Equal("unknown directive \"bogus\"", _reconciler.Status.Nginx!.LastError);

        // Generation 4 is rejected by its source (a Secret missing): observed too.
        await _reconciler.HandleAsync(new NodeConfigRejected(["Secret edge/web-tls does not exist"], "test") { Generation = 4 }, default);
        Assert.Equal(4, _reconciler.Status.ObservedGeneration);
    }

    [Fact]
    public async Task Only_a_config_in_force_is_reported_applied_to_its_source()
    {
        var applied = new List<int>();
        NodeConfigUpdate Numbered(int n, NodeConfigUpdate update) => update with { Applied = () => applied.Add(n) };

        await Apply(Numbered(1, Config(Instance("edge/web/0", 51))));
        Assert.Equal([1], applied);

        _nginx.Reject = "unknown directive \"bogus\"";
        await Apply(Numbered(2, Config(Instance("edge/web/0", 51))));
        _nginx.Reject = null;
        var invalid = Config(Instance("edge/web/0", 51));
        invalid.Config.Spec.BackendPools[0].Spec.Listeners = [new NginxListener { Port = 18080 }]; // the health port
        await Apply(Numbered(3, invalid));
        Assert.Equal([1], applied); // neither the one nginx refused nor the invalid one

        await Apply(Numbered(4, Config(Instance("edge/web/0", 51))));
        Assert.Equal([1, 4], applied);
    }

    [Fact]
    public async Task A_rejected_config_is_in_the_status_and_announced_naming_the_field_until_a_valid_one_is_applied()
    {
        var announced = new List<string>();
        _reconciler.ConfigRejected += announced.Add;
        var invalid = Config(Instance("edge/web/0", 51));
        invalid.Config.Spec.BackendPools[0].Spec.Listeners = [new NginxListener { Port = 18080 }];

        var result = await _reconciler.HandleAsync(invalid, default);

        Assert.Equal(ReconcileOutcome.Rejected, result.Outcome);
        Assert.Empty(_instances.Started);
        var error = _reconciler.Status.Nginx!.LastError;
        Assert.NotNull(error);
        Assert.StartsWith("config rejected, the last good config keeps serving: ", error);
        Assert.Contains("spec.listeners: port 18080 is the agent's health probe port", error);
        Assert.Equal([error], announced);

        await _reconciler.HandleAsync(new NodeConfigRejected(["NodeHaConfig lb1: spec.backendPools[0].spec.listeners[0].tls.secretName: Secret edge/web-tls does not exist"], "test"), default);
        Assert.Contains("tls.secretName: Secret edge/web-tls does not exist", _reconciler.Status.Nginx!.LastError);
        Assert.Equal(2, announced.Count);

        Assert.Equal(ReconcileOutcome.Applied, (await Apply(Config(Instance("edge/web/0", 51)))).Outcome);
        Assert.Null(_reconciler.Status.Nginx!.LastError);
    }

    sealed class FakeHost : IHostFacts
    {
        public ConfiguredAddress[] Addresses_ =
        [
            new("lo", IPAddress.Loopback, 8),
            new("eth0", IPAddress.Parse("198.18.0.11"), 24),
            new("eth1", IPAddress.Parse("198.19.0.11"), 16),
        ];

        public IReadOnlyList<ConfiguredAddress> Addresses() => Addresses_;
    }

    sealed class FakeNginx : INginxConfigTarget
    {
        public readonly List<string> Applied = [];
        public string? Reject;
        public ConfigApplyOutcome RejectAs = ConfigApplyOutcome.Rejected;
        public bool AppliedBeforeFirstStart;
        public FakeInstanceHost? Instances;
        volatile NginxHealth _current = NginxHealth.Healthy;

        public NginxHealth Current => _current;
        public event Action<NginxHealth>? HealthChanged;
        public event Action? MasterExited;

        /// <summary>The master dies; the supervisor raises this before the health change it causes.</summary>
        public void Exit() => MasterExited?.Invoke();

        public void Set(NginxHealth health)
        {
            _current = health;
            HealthChanged?.Invoke(health);
        }

        /// <summary>Runs as nginx -t would read the config (to see what is on disk then).</summary>
        public Action<string>? OnCheck;

        public Task<ConfigApplyResult> ApplyAsync(string renderedConfig, CancellationToken cancellationToken)
        {
            OnCheck?.Invoke(renderedConfig);
            if (Reject is not null) return Task.FromResult(new ConfigApplyResult(RejectAs, Reject));
            if (Applied.Count == 0) AppliedBeforeFirstStart = Instances!.Started.Count == 0;
            bool changed = Applied.Count == 0 || Applied[^1] != renderedConfig;
            Applied.Add(renderedConfig);
            return Task.FromResult(new ConfigApplyResult(changed ? ConfigApplyOutcome.Reloaded : ConfigApplyOutcome.Unchanged));
        }
    }

    sealed class FakeInstanceHost : IVrrpInstanceHost
    {
        public readonly List<FakeInstance> Started = [];
        public string? Refuse;
        public Action? DuringStart;

        public IVrrpInstance Start(InstancePlan plan, bool fault)
        {
            if (plan.Name == Refuse) throw new SpeakerSetupException(plan.Name, "interface", "no such interface");
            DuringStart?.Invoke();
            var instance = new FakeInstance(plan, fault);
            Started.Add(instance);
            return instance;
        }
    }

    sealed class FakeInstance(InstancePlan plan, bool fault) : IVrrpInstance
    {
        readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly bool StartedInFault = fault;
        public readonly List<bool> Faults = [];
        public readonly List<InstancePlan> Updates = [];
        public bool Disposed;
        VrrpState _state = VrrpState.Initialize;
        long _transitions;

        public InstancePlan Plan { get; private set; } = plan;
        public VrrpState State => _state;
        public IPAddress? CurrentMaster { get; private set; }
        public long Transitions => _transitions;
        public Task Completion => _completion.Task;
        public event Action<VrrpState, VrrpState>? StateChanged;

        public void SetFault(bool fault)
        {
            lock (Faults) Faults.Add(fault);
        }

        public void Update(InstancePlan plan)
        {
            Updates.Add(plan);
            Plan = plan;
        }

        public void Transition(VrrpState to, IPAddress? master)
        {
            var from = _state;
            _state = to;
            CurrentMaster = master;
            _transitions++;
            StateChanged?.Invoke(from, to);
        }

        public void Die(Exception ex) => _completion.TrySetException(ex);

        // Set: the instance's loop hangs (idle probes are not answered until Resume).
        TaskCompletionSource? _hang;
        public void Hang() => _hang = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        public void Resume() => Interlocked.Exchange(ref _hang, null)?.TrySetResult();
        public Task IdleAsync() => _hang?.Task ?? Task.CompletedTask;

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            _completion.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }
}
