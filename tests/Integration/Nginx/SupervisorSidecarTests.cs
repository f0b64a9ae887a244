using NginxHa.NodeAgent.Nginx;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Nginx;

/// <summary>Sidecar mode: the test starts nginx itself; the supervisor only finds it through the pid file.</summary>
public sealed class SupervisorSidecarTests(ITestOutputHelper output) : SupervisorTestBase(output)
{
    [Fact]
    public async Task Dead_sidecar_master_is_reported_down_at_once_and_a_new_master_is_picked_up()
    {
        await File.WriteAllTextAsync(_site.Paths.ConfigPath, _site.Config("one"));
        var nginx = _site.StartForeignNginx();
        await _site.WaitForBodyAsync("one", TimeSpan.FromSeconds(5));
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Sidecar));

        await _site.Health.WaitForAsync(NginxHealth.Healthy, 0, TimeSpan.FromSeconds(5));
        Assert.Equal(nginx.Id, supervisor.MasterPid);
        var mark = _site.Health.Count;

        var killedAt = _site.Health.Now;
        SupervisorTestSite.Signal(nginx.Id, SIGKILL);

        var downAt = await _site.Health.WaitForAsync(NginxHealth.Down, mark, TimeSpan.FromSeconds(5));
        Output.WriteLine($"sidecar kill -9 -> Down {(downAt - killedAt).TotalMilliseconds:0} ms");
        Assert.True(downAt - killedAt < TimeSpan.FromSeconds(1), $"death noticed after {downAt - killedAt}");
        Assert.Null(supervisor.MasterPid);
        Assert.Equal(NginxHealth.Down, supervisor.Current);

        // Whoever owns nginx clears the orphaned workers and starts a new master; the pid file leads us to it.
        SupervisorTestSite.Signal(-nginx.Id, SIGKILL);
        var replacement = _site.StartForeignNginx();
        await _site.Health.WaitForAsync(NginxHealth.Healthy, mark, TimeSpan.FromSeconds(5));
        Assert.Equal(replacement.Id, supervisor.MasterPid);
        Assert.Equal([NginxHealth.Down, NginxHealth.Healthy], _site.Health.Since(mark));
    }

    [Fact]
    public async Task Config_is_validated_and_the_sidecar_master_reloaded_by_signal()
    {
        await File.WriteAllTextAsync(_site.Paths.ConfigPath, _site.Config("one"));
        var nginx = _site.StartForeignNginx();
        await _site.WaitForBodyAsync("one", TimeSpan.FromSeconds(5));
        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Sidecar, withProbe: false));
        await _site.Health.WaitForAsync(NginxHealth.Healthy, 0, TimeSpan.FromSeconds(5));

        Assert.Equal(ConfigApplyOutcome.Unchanged, (await supervisor.ApplyAsync(_site.Config("one"), CancellationToken.None)).Outcome);
        var rejected = await supervisor.ApplyAsync(_site.Config("two", "bogus_directive on;"), CancellationToken.None);
        Assert.Equal(ConfigApplyOutcome.Rejected, rejected.Outcome);
        Assert.Contains("unknown directive \"bogus_directive\"", rejected.Error);

        var reloaded = await supervisor.ApplyAsync(_site.Config("two"), CancellationToken.None);

        Assert.Equal(ConfigApplyOutcome.Reloaded, reloaded.Outcome);
        await _site.WaitForBodyAsync("two", TimeSpan.FromSeconds(5));
        Assert.Equal(nginx.Id, supervisor.MasterPid);
        Assert.Equal(1, _site.ReloadsLoggedByNginx());
    }

    [Fact]
    public async Task Without_a_live_master_the_supervisor_waits_and_never_starts_one()
    {
        // A pid file naming a dead process (left behind by a kill -9) must not count as a master.
        await File.WriteAllTextAsync(_site.Paths.ConfigPath, _site.Config("one"));
        var stale = _site.StartForeignNginx();
        await _site.WaitForBodyAsync("one", TimeSpan.FromSeconds(5));
        SupervisorTestSite.Signal(-stale.Id, SIGKILL);
        Assert.True(stale.WaitForExit(5000));
        await File.WriteAllTextAsync(_site.Paths.PidFilePath, stale.Id + "\n");

        var supervisor = await _site.StartSupervisorAsync(_site.Options(NginxSupervisionMode.Sidecar));
        var applied = await supervisor.ApplyAsync(_site.Config("two"), CancellationToken.None);

        Assert.Equal(ConfigApplyOutcome.WrittenNotRunning, applied.Outcome);
        Assert.Equal(NginxHealth.Starting, supervisor.Current);
        Assert.Null(supervisor.MasterPid);
        Assert.Contains(_site.LogLines, line => line.Contains($"pid {stale.Id} does not exist"));
        await Assert.ThrowsAsync<HttpRequestException>(() => _site.GetAsync());
    }
}
