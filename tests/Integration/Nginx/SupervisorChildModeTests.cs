using System.Net;
using System.Runtime.Versioning;
using System.Net.Sockets;
using NginxHa.NodeAgent.Nginx;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Nginx;

/// <summary>The supervisor running a real nginx as its child, on 127.0.0.1 only.</summary>
[SupportedOSPlatform("linux")]
public sealed class SupervisorChildModeTests(ITestOutputHelper output) : SupervisorTestBase(output)
{
    private const int SIGSTOP = 19;

    [Fact]
    public async Task First_config_starts_nginx_serves_it_and_is_not_world_readable()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        Assert.Equal(NginxHealth.Starting, supervisor.Current);

        var result = await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);

        Assert.Equal(new ConfigApplyResult(ConfigApplyOutcome.Started), result);
        Assert.Equal(NginxHealth.Healthy, supervisor.Current);
        Assert.Equal([NginxHealth.Starting, NginxHealth.Healthy], _site.Health.Since(0));
        Assert.Equal("one", (await _site.GetAsync()).Trim());
        Assert.Equal(_site.Config("one"), await File.ReadAllTextAsync(_site.Paths.ConfigPath));
        Assert.False(File.Exists(_site.Paths.CandidatePath));
        var mode = File.GetUnixFileMode(_site.Paths.ConfigPath);
        Assert.Equal(UnixFileMode.None, mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute));
    }

    [Fact]
    public async Task Changed_config_reloads_the_same_master_and_same_text_does_not_reload()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        var workersBefore = SupervisorTestSite.ChildPids(master);
        Assert.Equal(2, workersBefore.Length);

        var changed = await supervisor.ApplyAsync(_site.Config("two"), CancellationToken.None);

        Assert.Equal(ConfigApplyOutcome.Reloaded, changed.Outcome);
        await _site.WaitForBodyAsync("two", TimeSpan.FromSeconds(5));
        Assert.Equal(master, supervisor.MasterPid);
        // The new text comes from workers the reload spawned under the same master.
        Assert.NotEmpty(SupervisorTestSite.ChildPids(master).Except(workersBefore));

        var same = await supervisor.ApplyAsync(_site.Config("two"), CancellationToken.None);
        Assert.Equal(ConfigApplyOutcome.Unchanged, same.Outcome);
        Assert.Equal(1, supervisor.ReloadCount);

        // nginx handles signals in order: once "three" is served, a reload for the unchanged apply would have been
        // logged before it. nginx's own log must show exactly two reloads.
        await supervisor.ApplyAsync(_site.Config("three"), CancellationToken.None);
        await _site.WaitForBodyAsync("three", TimeSpan.FromSeconds(5));
        Assert.Equal(2, supervisor.ReloadCount);
        Assert.Equal(2, _site.ReloadsLoggedByNginx());
        Assert.Equal(master, supervisor.MasterPid);
        Assert.Equal([NginxHealth.Starting, NginxHealth.Healthy], _site.Health.Since(0));
    }

    [Fact]
    public async Task Invalid_config_is_rejected_with_nginx_message_and_the_old_one_keeps_serving()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);

        var result = await supervisor.ApplyAsync(_site.Config("two", "bogus_directive on;"), CancellationToken.None);

        Assert.Equal(ConfigApplyOutcome.Rejected, result.Outcome);
        Assert.StartsWith("unknown directive \"bogus_directive\" in " + _site.Paths.CandidatePath + ":", result.Error);
        Assert.Equal(result.Error, supervisor.LastError);
        Assert.Equal("one", (await _site.GetAsync()).Trim());
        Assert.Equal(_site.Config("one"), await File.ReadAllTextAsync(_site.Paths.ConfigPath));
        Assert.False(File.Exists(_site.Paths.CandidatePath));
        Assert.Equal(0, supervisor.ReloadCount);
        Assert.Equal(NginxHealth.Healthy, supervisor.Current);

        var fixedConfig = await supervisor.ApplyAsync(_site.Config("two"), CancellationToken.None);
        Assert.Equal(ConfigApplyOutcome.Reloaded, fixedConfig.Outcome);
        Assert.Null(supervisor.LastError);
    }

    [Fact]
    public async Task A_reload_that_fails_at_runtime_is_reported_failed_and_the_old_config_keeps_serving()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        // nginx -t does not bind: a port someone else holds passes the check and fails only in the master's reload.
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        var withTakenPort = _site.Config("two", $"server {{ listen 127.0.0.1:{taken}; return 200 \"x\"; }}");

        var result = await supervisor.ApplyAsync(withTakenPort, CancellationToken.None);

        Assert.Equal(ConfigApplyOutcome.ReloadFailed, result.Outcome);
        Assert.False(result.Accepted);
        Assert.Contains($"127.0.0.1:{taken}", result.Error);
        Assert.Contains("Address already in use", result.Error);
        Assert.Equal(result.Error, supervisor.LastError);
        Assert.Equal("one", (await _site.GetAsync()).Trim());
        Assert.Equal(_site.Config("one"), await File.ReadAllTextAsync(_site.Paths.ConfigPath));
        Assert.Equal(master, supervisor.MasterPid);
        Assert.Equal(NginxHealth.Healthy, supervisor.Current);

        // Once the port is free the same change is tried again, not taken for the running config.
        holder.Stop();
        var retried = await supervisor.ApplyAsync(withTakenPort, CancellationToken.None);
        Assert.Equal(ConfigApplyOutcome.Reloaded, retried.Outcome);
        await _site.WaitForBodyAsync("two", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_master_killed_during_nginx_t_reaches_vrrp_before_the_check_ends_and_the_apply_reloads_the_new_master()
    {
        // nginx -t takes 2 s here (a wrapper sleeps first); it runs off the supervisor's loop, so the death is handled at once.
        var wrapper = Path.Combine(_site.Prefix, "slow-check-nginx");
        var checkStarted = Path.Combine(_site.Prefix, "check-started");
        await File.WriteAllTextAsync(wrapper,
            $"#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -t ] && touch {checkStarted} && sleep 2; done\nexec {SupervisorTestSite.NginxBinary} \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child, binary: wrapper));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        var exited = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        supervisor.MasterExited += () => exited.TrySetResult(_site.Health.Now);
        var mark = _site.Health.Count;

        File.Delete(checkStarted); // the first apply's check made it
        var apply = supervisor.ApplyAsync(_site.Config("two"), CancellationToken.None);
        var waitUntil = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!File.Exists(checkStarted) && DateTime.UtcNow < waitUntil) await Task.Delay(10);
        Assert.True(File.Exists(checkStarted), "the second apply's nginx -t did not start");
        Assert.False(apply.IsCompleted, "nginx -t should still be running");
        var killedAt = _site.Health.Now;
        SupervisorTestSite.Signal(master, SIGKILL);

        var reportedAt = await exited.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var restartingAt = await _site.Health.WaitForAsync(NginxHealth.Restarting, mark, TimeSpan.FromSeconds(5));
        var healthyAt = await _site.Health.WaitForAsync(NginxHealth.Healthy, mark, TimeSpan.FromSeconds(5));
        Assert.False(apply.IsCompleted, "the death and the restart must be handled while nginx -t still runs");
        Output.WriteLine($"kill -9 during nginx -t -> MasterExited after {(reportedAt - killedAt).TotalMilliseconds:0.0} ms, " +
            $"Restarting after {(restartingAt - killedAt).TotalMilliseconds:0.0} ms, Healthy after {(healthyAt - killedAt).TotalMilliseconds:0.0} ms");
        Assert.True(reportedAt - killedAt < TimeSpan.FromMilliseconds(500), $"reported after {reportedAt - killedAt}");
        Assert.True(reportedAt <= restartingAt, "MasterExited comes before the health change it causes");

        // The check ends after the restart: its config is judged against the new master and reloaded into it.
        var result = await apply;
        Assert.Equal(ConfigApplyOutcome.Reloaded, result.Outcome);
        Assert.NotEqual(master, supervisor.MasterPid);
        await _site.WaitForBodyAsync("two", TimeSpan.FromSeconds(5));
        Assert.Equal([NginxHealth.Restarting, NginxHealth.Healthy], _site.Health.Since(mark));
    }

    [Fact]
    public async Task First_config_rejected_means_failed_until_a_valid_one_arrives()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));

        var result = await supervisor.ApplyAsync("events {}\nhttp { server { listen 127.0.0.1:notaport; } }\n", CancellationToken.None);

        Assert.Equal(ConfigApplyOutcome.Rejected, result.Outcome);
        Assert.Contains("notaport", result.Error);
        Assert.Equal(NginxHealth.Failed, supervisor.Current);
        Assert.Null(supervisor.MasterPid);

        Assert.Equal(ConfigApplyOutcome.Started, (await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None)).Outcome);
        Assert.Equal(NginxHealth.Healthy, supervisor.Current);
    }

    [Fact]
    public async Task Killed_master_is_noticed_at_once_and_restarted_with_its_orphaned_workers_cleared()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        var workers = SupervisorTestSite.ChildPids(master);
        var mark = _site.Health.Count;

        var killedAt = _site.Health.Now;
        SupervisorTestSite.Signal(master, SIGKILL);

        var restartingAt = await _site.Health.WaitForAsync(NginxHealth.Restarting, mark, TimeSpan.FromSeconds(5));
        var healthyAt = await _site.Health.WaitForAsync(NginxHealth.Healthy, mark, TimeSpan.FromSeconds(5));
        Output.WriteLine($"kill -9 -> Restarting {(restartingAt - killedAt).TotalMilliseconds:0} ms, -> Healthy {(healthyAt - killedAt).TotalMilliseconds:0} ms");

        Assert.True(restartingAt - killedAt < TimeSpan.FromSeconds(1), $"death noticed after {restartingAt - killedAt}");
        Assert.Equal([NginxHealth.Restarting, NginxHealth.Healthy], _site.Health.Since(mark));
        Assert.NotEqual(master, supervisor.MasterPid);
        Assert.Equal("one", (await _site.GetAsync()).Trim());
        Assert.DoesNotContain(workers, SupervisorTestSite.IsRunning);
    }

    [Fact]
    public async Task Restart_made_impossible_faults_at_once_then_fails_and_a_valid_config_recovers()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        // The config on disk becomes unusable behind the supervisor's back (e.g. a deleted include).
        await File.WriteAllTextAsync(_site.Paths.ConfigPath, "events {}\ninclude /nonexistent/ngx-sup.conf;\n");
        var mark = _site.Health.Count;

        var killedAt = _site.Health.Now;
        SupervisorTestSite.Signal(master, SIGKILL);

        var downAt = await _site.Health.WaitForAsync(NginxHealth.Down, mark, TimeSpan.FromSeconds(5));
        var failedAt = await _site.Health.WaitForAsync(NginxHealth.Failed, mark, TimeSpan.FromSeconds(5));
        Output.WriteLine($"kill -9 with broken config -> Down {(downAt - killedAt).TotalMilliseconds:0} ms, -> Failed {(failedAt - killedAt).TotalMilliseconds:0} ms");

        Assert.True(downAt - killedAt < TimeSpan.FromSeconds(1), $"fault signalled after {downAt - killedAt}");
        Assert.Equal([NginxHealth.Restarting, NginxHealth.Down, NginxHealth.Failed], _site.Health.Since(mark));
        Assert.Contains("/nonexistent/ngx-sup.conf", supervisor.HealthReason);
        Assert.Null(supervisor.MasterPid);

        var recovered = await supervisor.ApplyAsync(_site.Config("two"), CancellationToken.None);

        Assert.Equal(ConfigApplyOutcome.Started, recovered.Outcome);
        Assert.Equal(NginxHealth.Healthy, supervisor.Current);
        Assert.Equal("two", (await _site.GetAsync()).Trim());
    }

    [Fact]
    public async Task Failed_restart_is_noticed_when_nginx_exits_not_at_the_next_start_poll()
    {
        var clock = new FreezableClock();
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child, withProbe: false), clock);
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        await File.WriteAllTextAsync(_site.Paths.ConfigPath, "events {}\ninclude /nonexistent/ngx-sup.conf;\n");
        var mark = _site.Health.Count;
        // From here on no timer fires: the start loop's poll delay never ends, so only nginx's exit can end the wait.
        clock.Freeze();
        try
        {
            SupervisorTestSite.Signal(master, SIGKILL);

            await _site.Health.WaitForAsync(NginxHealth.Down, mark, TimeSpan.FromSeconds(5));
            Assert.Equal([NginxHealth.Restarting, NginxHealth.Down], _site.Health.Since(mark));
            Assert.Contains("/nonexistent/ngx-sup.conf", supervisor.HealthReason);
        }
        finally
        {
            clock.Thaw();
        }
    }

    [Fact]
    public async Task Occupied_port_fails_the_start_with_nginx_message_and_retries_until_it_is_free()
    {
        var occupier = new TcpListener(IPAddress.Loopback, _site.Port);
        occupier.Start();
        try
        {
            var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));

            var result = await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);

            Assert.Equal(ConfigApplyOutcome.StartFailed, result.Outcome);
            Assert.Contains($"bind() to 127.0.0.1:{_site.Port} failed (98: Address already in use)", result.Error);
            await _site.Health.WaitForAsync(NginxHealth.Failed, 0, TimeSpan.FromSeconds(5));
        }
        finally
        {
            occupier.Stop();
        }

        // Retries go on at the ladder's ceiling (0.4 s here), so freeing the port recovers without a new config.
        await _site.Health.WaitForAsync(NginxHealth.Healthy, 0, TimeSpan.FromSeconds(5));
        Assert.Equal("one", (await _site.GetAsync()).Trim());
    }

    [Fact]
    public async Task Hung_nginx_fails_the_probe_is_killed_and_restarted()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        var mark = _site.Health.Count;

        // Stopped processes keep the listening socket open but never answer: a hang, not a death.
        var stoppedAt = _site.Health.Now;
        SupervisorTestSite.Signal(-master, SIGSTOP);

        var downAt = await _site.Health.WaitForAsync(NginxHealth.Down, mark, TimeSpan.FromSeconds(5));
        await _site.Health.WaitForAsync(NginxHealth.Healthy, mark, TimeSpan.FromSeconds(5));
        Output.WriteLine($"hang -> Down after {(downAt - stoppedAt).TotalMilliseconds:0} ms (probe every 200 ms, timeout 500 ms, threshold 2)");

        Assert.Equal([NginxHealth.Down, NginxHealth.Healthy], _site.Health.Since(mark));
        Assert.NotEqual(master, supervisor.MasterPid);
        Assert.False(SupervisorTestSite.IsRunning(master));
        Assert.Equal("one", (await _site.GetAsync()).Trim());
    }

    [Fact]
    public async Task Restarted_agent_kills_a_leftover_master_and_serves_the_config_in_place()
    {
        await using (var first = new NginxSupervisor(_site.Options(NginxSupervisionMode.Child), TimeProvider.System, _ => { }))
        {
            await first.StartAsync(CancellationToken.None);
            await first.ApplyAsync(_site.Config("one"), CancellationToken.None);
        }
        // Simulate an agent that died without stopping nginx: a master of ours left running in its own session.
        var leftover = _site.StartForeignNginx();
        await _site.WaitForBodyAsync("one", TimeSpan.FromSeconds(5));

        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));

        Assert.Equal(NginxHealth.Healthy, supervisor.Current);
        Assert.NotEqual(leftover.Id, supervisor.MasterPid);
        Assert.True(leftover.WaitForExit(5000));
        Assert.Equal("one", (await _site.GetAsync()).Trim());
        Assert.Equal(ConfigApplyOutcome.Unchanged, (await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Stop_ends_nginx_and_its_workers()
    {
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Child));
        await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None);
        var master = supervisor.MasterPid!.Value;
        var workers = SupervisorTestSite.ChildPids(master);

        await supervisor.StopAsync(CancellationToken.None);

        Assert.Equal(NginxHealth.Stopped, supervisor.Current);
        Assert.False(SupervisorTestSite.IsRunning(master));
        Assert.DoesNotContain(workers, SupervisorTestSite.IsRunning);
        await Assert.ThrowsAsync<HttpRequestException>(() => _site.GetAsync());
    }
}
