using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Tests.Nginx;

public class NginxHealthStateTests
{
    private static readonly RestartBackoffOptions Backoff = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));

    private readonly FakeTimeProvider _time = new();

    private NginxHealthState Child(int maxStartAttempts = 3, int probeThreshold = 2, bool hasProbe = true) =>
        new(NginxSupervisionMode.Child, new NginxHealthPolicy(maxStartAttempts, probeThreshold, hasProbe, Backoff), _time);

    private NginxHealthState Sidecar(bool hasProbe) =>
        new(NginxSupervisionMode.Sidecar, new NginxHealthPolicy(3, 2, hasProbe, Backoff), _time);

    private NginxHealthState HealthyChild(int maxStartAttempts = 3)
    {
        var state = Child(maxStartAttempts);
        state.Begin();
        state.StartSucceeded("up");
        return state;
    }

    [Fact]
    public void Begins_stopped_then_starting_then_healthy()
    {
        var state = Child();
        Assert.Equal(NginxHealth.Stopped, state.Current);

        state.Begin();
        Assert.Equal(NginxHealth.Starting, state.Current);

        state.StartSucceeded("master pid 7 up");
        Assert.Equal(NginxHealth.Healthy, state.Current);
        Assert.Equal("master pid 7 up", state.Reason);
    }

    [Fact]
    public void Crash_of_a_healthy_nginx_gets_one_immediate_restart_without_fault()
    {
        var state = HealthyChild();

        var decision = state.MasterExited("master pid 7 exited (killed by signal 9)");

        Assert.Equal(new NginxDecision(SupervisorAction.StartNow, TimeSpan.Zero), decision);
        Assert.Equal(NginxHealth.Restarting, state.Current);
        Assert.False(state.Current.RequiresVrrpFault());
    }

    [Fact]
    public void Failed_immediate_restart_faults_at_once_and_backs_off()
    {
        var state = HealthyChild();
        state.MasterExited("killed");

        var decision = state.StartFailed("bind() to 127.0.0.1:80 failed (98: Address already in use)");

        Assert.Equal(NginxHealth.Down, state.Current);
        Assert.True(state.Current.RequiresVrrpFault());
        Assert.Equal(new NginxDecision(SupervisorAction.StartAfterDelay, TimeSpan.FromMilliseconds(100)), decision);
        Assert.Contains("Address already in use", state.Reason);
    }

    [Fact]
    public void Consecutive_failed_starts_reach_failed_and_keep_retrying_at_growing_delays()
    {
        var state = HealthyChild(maxStartAttempts: 3);
        state.MasterExited("killed");

        var first = state.StartFailed("e1");
        var second = state.StartFailed("e2");
        Assert.Equal(NginxHealth.Down, state.Current);
        var third = state.StartFailed("e3");

        Assert.Equal(NginxHealth.Failed, state.Current);
        Assert.Equal("3 consecutive failed starts, last: e3", state.Reason);
        Assert.Equal([100, 200, 400], new[] { first, second, third }.Select(d => d.Delay.TotalMilliseconds));
        Assert.All([first, second, third], d => Assert.Equal(SupervisorAction.StartAfterDelay, d.Action));
    }

    [Fact]
    public void Successful_start_after_failures_is_healthy_and_clears_the_count()
    {
        var state = HealthyChild(maxStartAttempts: 2);
        state.MasterExited("killed");
        state.StartFailed("e1");
        state.StartFailed("e2");
        Assert.Equal(NginxHealth.Failed, state.Current);

        state.StartSucceeded("up again");

        Assert.Equal(NginxHealth.Healthy, state.Current);
        Assert.Equal(0, state.ConsecutiveStartFailures);
    }

    [Fact]
    public void Crash_loop_faults_on_the_second_quick_crash()
    {
        var state = HealthyChild();
        state.MasterExited("crash 1");
        state.StartSucceeded("up");
        _time.Advance(TimeSpan.FromSeconds(2));

        var decision = state.MasterExited("crash 2");

        Assert.Equal(NginxHealth.Down, state.Current);
        Assert.Equal(new NginxDecision(SupervisorAction.StartAfterDelay, TimeSpan.FromMilliseconds(100)), decision);
    }

    [Fact]
    public void Crash_after_a_stable_run_is_again_restarted_at_once()
    {
        var state = HealthyChild();
        state.MasterExited("crash 1");
        state.StartSucceeded("up");
        _time.Advance(TimeSpan.FromSeconds(10));

        var decision = state.MasterExited("crash 2");

        Assert.Equal(NginxHealth.Restarting, state.Current);
        Assert.Equal(SupervisorAction.StartNow, decision.Action);
    }

    [Fact]
    public void Probe_failures_below_the_threshold_keep_healthy_and_a_success_resets_the_count()
    {
        var state = Child(probeThreshold: 2);
        state.Begin();
        state.StartSucceeded("up");

        Assert.Equal(NginxDecision.None, state.ProbeFailed("timed out"));
        state.ProbeSucceeded();
        Assert.Equal(NginxDecision.None, state.ProbeFailed("timed out"));

        Assert.Equal(NginxHealth.Healthy, state.Current);
    }

    [Fact]
    public void Hung_child_is_down_at_the_threshold_and_killed_then_its_exit_restarts_it_without_unfaulting()
    {
        var state = Child(probeThreshold: 2);
        state.Begin();
        state.StartSucceeded("up");
        state.ProbeFailed("timed out");

        var decision = state.ProbeFailed("timed out");

        Assert.Equal(NginxDecision.Kill, decision);
        Assert.Equal(NginxHealth.Down, state.Current);
        Assert.Equal("2 consecutive failed health probes, last: timed out", state.Reason);

        var afterKill = state.MasterExited("killed by signal 9");
        Assert.Equal(SupervisorAction.StartNow, afterKill.Action);
        Assert.Equal(NginxHealth.Down, state.Current);
    }

    [Fact]
    public void Probe_results_are_ignored_while_a_child_is_not_confirmed_up()
    {
        var state = Child(probeThreshold: 1);
        state.Begin();

        Assert.False(state.WantsProbe);
        Assert.Equal(NginxDecision.None, state.ProbeFailed("refused"));
        Assert.Equal(NginxHealth.Starting, state.Current);
    }

    [Fact]
    public void No_usable_config_is_failed()
    {
        var state = Child();
        state.Begin();

        state.NoUsableConfig("unknown directive \"bogus\" in /c:1");

        Assert.Equal(NginxHealth.Failed, state.Current);
        Assert.Equal("no valid config to start with: unknown directive \"bogus\" in /c:1", state.Reason);
    }

    [Fact]
    public void Sidecar_without_probe_is_healthy_when_a_master_is_found_and_down_when_it_exits()
    {
        var state = Sidecar(hasProbe: false);
        state.Begin();
        state.SidecarMasterFound(42);
        Assert.Equal(NginxHealth.Healthy, state.Current);

        var decision = state.MasterExited("sidecar master pid 42 exited");

        Assert.Equal(NginxDecision.None, decision);
        Assert.Equal(NginxHealth.Down, state.Current);
        Assert.False(state.WantsProbe);
    }

    [Fact]
    public void Sidecar_with_probe_waits_for_the_probe_and_is_never_killed_when_hung()
    {
        var state = Sidecar(hasProbe: true);
        state.Begin();
        state.SidecarMasterFound(42);
        Assert.Equal(NginxHealth.Starting, state.Current);

        state.ProbeSucceeded();
        Assert.Equal(NginxHealth.Healthy, state.Current);

        state.ProbeFailed("timed out");
        Assert.Equal(NginxDecision.None, state.ProbeFailed("timed out"));
        Assert.Equal(NginxHealth.Down, state.Current);

        state.ProbeSucceeded();
        Assert.Equal(NginxHealth.Healthy, state.Current);
    }

    [Theory]
    [InlineData(NginxHealth.Stopped, true)]
    [InlineData(NginxHealth.Starting, true)]
    [InlineData(NginxHealth.Healthy, false)]
    [InlineData(NginxHealth.Restarting, false)]
    [InlineData(NginxHealth.Down, true)]
    [InlineData(NginxHealth.Failed, true)]
    public void Fault_mapping(NginxHealth health, bool fault) => Assert.Equal(fault, health.RequiresVrrpFault());

    [Fact]
    public void Invalid_policy_names_the_field()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new NginxHealthState(NginxSupervisionMode.Child, new NginxHealthPolicy(0, 1, false, Backoff), _time));

        Assert.Equal("MaxStartAttempts must be at least 1, got 0.", error.Message);
    }
}
