using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Hardening;

/// <summary>
/// Issue 12, section 0, items 1, 2, 4 and 5 against the real agent in network namespaces: bad input and a full disk
/// never take down what serves; a second agent for the node refuses to start and touches nothing.
/// </summary>
[Collection(HardeningCollection.Name)]
public sealed class LiveAgentBadInputTests : IDisposable
{
    static readonly TimeSpan Reload = TimeSpan.FromSeconds(10);
    readonly SingleNodeLab _lab = new("hdl");

    public void Dispose() => _lab.Dispose();

    /// <summary>What the agent printed apart from its timestamped log lines (the metrics server's start, warnings).</summary>
    static string[] Said(AgentProcess agent) =>
        agent.Process.Lines.Where(l => l.Length > 0 && !System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d{4}-\d\d-\d\dT")).ToArray();

    static string Broken => SingleNodeLab.Site().Replace("mode: ActivePassive", "mode: [ActivePassive", StringComparison.Ordinal);

    async Task<(AgentProcess Agent, int Nginx)> ServingAsync()
    {
        var agent = _lab.StartRun();
        await _lab.WaitUntilServingAsync(agent);
        var nginx = _lab.NginxMaster(_lab.StateDirectory()) ?? throw new InvalidOperationException($"no nginx master\n{agent.Process.Output}");
        return (agent, nginx);
    }

    void AssertStillServing(AgentProcess agent, int nginx)
    {
        Assert.False(agent.Process.HasExited, $"the agent exited\n{agent.Process.Output}");
        Assert.True(_lab.HoldsVip(), $"the VIP left lb1\n{agent.Process.Output}");
        Assert.Equal(nginx, _lab.NginxMaster(_lab.StateDirectory()));
        Assert.StartsWith("HTTP/1.1 ", _lab.HttpStatusThroughVip());
    }

    [Fact]
    public async Task A_yaml_syntax_error_in_the_live_site_file_is_rejected_and_the_vip_and_nginx_keep_serving()
    {
        var (agent, nginx) = await ServingAsync();
        var since = DateTimeOffset.UtcNow;

        _lab.WriteSite(Broken);

        await agent.Process.WaitForLineAsync(l => l.Contains($"config rejected: {_lab.SitePath}:", StringComparison.Ordinal)
                                                  && l.Contains("YAML syntax error", StringComparison.Ordinal), Reload, since);
        AssertStillServing(agent, nginx);
        Assert.DoesNotContain(agent.Process.Lines, l => l.Contains("Unhandled exception", StringComparison.Ordinal));
        Assert.Equal(0, await agent.StopAsync());
    }

    [Fact]
    public async Task The_same_broken_file_at_startup_gives_file_line_and_exit_1_with_nothing_started()
    {
        _lab.WriteSite(Broken);
        var agent = _lab.StartRun();

        Assert.Equal(1, await agent.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(_lab.SitePath)}:\d+: YAML syntax error: ", Said(agent)[0]);
        Assert.DoesNotContain(agent.Process.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.False(_lab.HoldsVip());
        Assert.False(File.Exists(_lab.NginxPidFile(_lab.StateDirectory())));
    }

    [Fact]
    public async Task A_full_state_dir_disk_on_reload_is_rejected_and_the_last_good_config_keeps_serving()
    {
        var state = _lab.StateDirectory();
        _lab.MountTmpfs(state, "4m");
        var (agent, nginx) = await ServingAsync();
        // Fill the disk for real.
        using (var fill = File.Create(Path.Combine(state, "fill")))
        {
            var block = new byte[64 * 1024];
            try
            {
                while (true) fill.Write(block);
            }
            catch (IOException) { }
        }
        var since = DateTimeOffset.UtcNow;

        _lab.WriteSite(SingleNodeLab.Site(serverPort: 8081));

        await agent.Process.WaitForLineAsync(l => l.Contains("config rejected", StringComparison.Ordinal)
                                                  && l.Contains("No space left on device", StringComparison.Ordinal), Reload, since);
        AssertStillServing(agent, nginx);
        File.Delete(Path.Combine(state, "fill"));
        Assert.Equal(0, await agent.StopAsync());
    }

    [Fact]
    public async Task Nesting_100000_levels_deep_on_reload_is_rejected_and_sigterm_still_stops_the_agent_at_once()
    {
        var (agent, nginx) = await ServingAsync();
        var since = DateTimeOffset.UtcNow;

        _lab.WriteSite(SingleNodeLab.Site() + "---\napiVersion: v1\nkind: Node\nmetadata: {name: deep}\nstatus: " +
                       new string('[', 100_000) + new string(']', 100_000) + "\n");

        await agent.Process.WaitForLineAsync(l => l.Contains("config rejected", StringComparison.Ordinal)
                                                  && l.Contains("nests deeper than 64 levels", StringComparison.Ordinal), Reload, since);
        AssertStillServing(agent, nginx);
        var stopping = DateTimeOffset.UtcNow;
        Assert.Equal(0, await agent.StopAsync());
        Assert.True(DateTimeOffset.UtcNow - stopping < TimeSpan.FromSeconds(5), $"stop took {DateTimeOffset.UtcNow - stopping}");
    }

    [Fact]
    public async Task A_second_agent_for_the_same_node_or_state_dir_refuses_to_start_and_touches_nothing()
    {
        var (first, nginx) = await ServingAsync();

        var sameNode = _lab.StartRun(state: _lab.StateDirectory("other"));
        Assert.Equal(1, await sameNode.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = Assert.Single(Said(sameNode));
        Assert.StartsWith($"nginx-ha-agent: node \"lb1\" already has an agent running in this network namespace (pid ", line);
        Assert.EndsWith("stop that agent first, or give this one another --node / --state-dir; nothing was changed", line);
        Assert.False(Directory.Exists(_lab.StateDirectory("other")));

        var sameState = _lab.StartRun(node: "lb2");
        Assert.Equal(1, await sameState.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.StartsWith($"nginx-ha-agent: state directory {_lab.StateDirectory()} is in use by another agent (pid ",
            Assert.Single(Said(sameState)));

        AssertStillServing(first, nginx);
        Assert.DoesNotContain(first.Process.Lines, l => l.Contains("left bound by an earlier run", StringComparison.Ordinal));
        Assert.Equal(0, await first.StopAsync());
    }
}
