using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Tests.Nginx;

/// <summary>The supervisor's pure decisions: every event in the states where it matters, effects in order.</summary>
public class NginxSupervisorMachineTests
{
    private static readonly RestartBackoffOptions Backoff = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
    private const long Startup = NginxSupervisorMachine.StartupApply;

    private readonly FakeTimeProvider _time = new();

    private NginxSupervisorMachine Machine(NginxSupervisionMode mode = NginxSupervisionMode.Child, bool hasProbe = false, int probeThreshold = 2) =>
        new(mode, new NginxHealthPolicy(3, probeThreshold, hasProbe, Backoff), _time);

    /// <summary>Child mode, config "zero" in place, master generation 1 (pid 101) confirmed up.</summary>
    private NginxSupervisorMachine HealthyChild(bool hasProbe = false)
    {
        var m = Machine(hasProbe: hasProbe);
        m.Handle(new SupervisionStarted("zero"));
        m.Handle(new CandidateChecked(Startup, null));
        m.Handle(new ChildSpawned(1, 101));
        m.Handle(new StartConfirmed(1, "master pid 101 up"));
        Assert.Equal(NginxHealth.Healthy, m.Current);
        return m;
    }

    private static T Single<T>(IReadOnlyList<SupervisorEffect> effects) where T : SupervisorEffect => Assert.Single(effects.OfType<T>());

    private static ConfigApplyResult Completed(IReadOnlyList<SupervisorEffect> effects, long id) =>
        Assert.Single(effects.OfType<CompleteApply>(), c => c.Id == id).Result;

    private static NginxHealth[] Healths(IReadOnlyList<SupervisorEffect> effects) => effects.OfType<RaiseHealthChanged>().Select(h => h.Health).ToArray();

    // ---- start ------------------------------------------------------------------------------------------------

    [Fact]
    public void Start_with_a_config_in_place_kills_a_leftover_checks_the_config_starts_and_completes_once_up()
    {
        var m = Machine();
        var started = m.Handle(new SupervisionStarted("zero"));
        Assert.Equal([NginxHealth.Starting], Healths(started));
        Assert.Contains(new KillLeftoverMaster(), started);
        Assert.Equal(new CheckCandidate(Startup, null), Single<CheckCandidate>(started));
        Assert.Empty(started.OfType<CompleteApply>());

        Assert.Equal(new SpawnChild(1), Single<SpawnChild>(m.Handle(new CandidateChecked(Startup, null))));
        Assert.Empty(m.Handle(new ChildSpawned(1, 101)));
        Assert.Equal(101, m.MasterPid);
        var up = m.Handle(new StartConfirmed(1, "master pid 101 up"));
        Assert.Equal([NginxHealth.Healthy], Healths(up));
        Assert.Equal(ConfigApplyOutcome.Started, Completed(up, Startup).Outcome);
        Assert.Equal(1, m.MasterStarts);
    }

    [Fact]
    public void Start_with_a_rejected_config_in_place_fails_without_starting_and_the_same_text_is_then_checked_again()
    {
        var m = Machine();
        m.Handle(new SupervisionStarted("zero"));
        var rejected = m.Handle(new CandidateChecked(Startup, "unknown directive \"x\""));
        Assert.Equal([NginxHealth.Failed], Healths(rejected));
        Assert.Empty(rejected.OfType<SpawnChild>());
        Assert.Equal(ConfigApplyOutcome.Rejected, Completed(rejected, Startup).Outcome);
        Assert.Equal("unknown directive \"x\"", m.LastError);

        Assert.Equal(new CheckCandidate(1, "zero"), Single<CheckCandidate>(m.Handle(new ApplyRequested(1, "zero"))));
    }

    [Fact]
    public void Start_without_a_config_waits_for_the_first_one_and_that_one_starts_nginx()
    {
        var m = Machine();
        var started = m.Handle(new SupervisionStarted(null));
        Assert.Equal(ConfigApplyOutcome.Unchanged, Completed(started, Startup).Outcome);
        Assert.Empty(started.OfType<CheckCandidate>());

        m.Handle(new ApplyRequested(1, "one"));
        var checkedOk = m.Handle(new CandidateChecked(1, null));
        Assert.Equal([typeof(InstallCandidate), typeof(SpawnChild)], checkedOk.Select(e => e.GetType()));
        m.Handle(new ChildSpawned(1, 101));
        Assert.Equal(ConfigApplyOutcome.Started, Completed(m.Handle(new StartConfirmed(1, "up")), 1).Outcome);
    }

    [Fact]
    public void A_first_start_that_fails_is_retried_at_once_and_the_apply_waits_for_the_retry()
    {
        var m = Machine();
        m.Handle(new SupervisionStarted("zero"));
        m.Handle(new CandidateChecked(Startup, null));
        var failed = m.Handle(new StartFailed(1, "bind() failed"));
        Assert.Equal([NginxHealth.Down], Healths(failed));
        Assert.Equal(new SpawnChild(2), Single<SpawnChild>(failed)); // the ladder's first step is immediate
        Assert.Empty(failed.OfType<CompleteApply>());

        var again = m.Handle(new StartFailed(2, "bind() failed"));
        Assert.Equal(new ScheduleStart(1, TimeSpan.FromMilliseconds(100)), Single<ScheduleStart>(again));
        Assert.Equal(new ConfigApplyResult(ConfigApplyOutcome.StartFailed, "bind() failed"), Completed(again, Startup));
    }

    // ---- applies to a running master --------------------------------------------------------------------------

    [Fact]
    public void An_apply_is_checked_off_the_loop_then_installed_and_the_master_reloaded()
    {
        var m = HealthyChild();
        Assert.Equal([new CheckCandidate(1, "one")], m.Handle(new ApplyRequested(1, "one")));
        var checkedOk = m.Handle(new CandidateChecked(1, null));
        Assert.Equal([new InstallCandidate(), new ReloadMaster(1, 1, 101)], checkedOk);
        var done = m.Handle(new ReloadCompleted(1, 1, null, Signalled: true, MasterGone: false));
        Assert.Equal(ConfigApplyOutcome.Reloaded, Completed(done, 1).Outcome);
        Assert.Equal(1, m.ReloadCount);
        Assert.Equal(ConfigApplyOutcome.Unchanged, Completed(m.Handle(new ApplyRequested(2, "one")), 2).Outcome);
    }

    [Fact]
    public void A_rejected_apply_discards_the_candidate_and_leaves_health_and_the_running_config_alone()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "bad"));
        var rejected = m.Handle(new CandidateChecked(1, "invalid port"));
        Assert.Contains(new DiscardCandidate(), rejected);
        Assert.Empty(Healths(rejected));
        Assert.Empty(rejected.OfType<InstallCandidate>());
        Assert.Equal(new ConfigApplyResult(ConfigApplyOutcome.Rejected, "invalid port"), Completed(rejected, 1));
        Assert.Equal("invalid port", m.LastError);
        Assert.Equal(ConfigApplyOutcome.Unchanged, Completed(m.Handle(new ApplyRequested(2, "zero")), 2).Outcome);
    }

    [Fact]
    public void A_reload_that_fails_at_runtime_restores_the_previous_config_and_the_same_change_is_tried_again()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        m.Handle(new CandidateChecked(1, null));
        var failed = m.Handle(new ReloadCompleted(1, 1, "bind() to 127.0.0.1:81 failed", Signalled: true, MasterGone: false));
        Assert.Contains(new RestoreConfig("zero"), failed);
        Assert.Equal(ConfigApplyOutcome.ReloadFailed, Completed(failed, 1).Outcome);
        Assert.Equal(NginxHealth.Healthy, m.Current);
        Assert.Equal(new CheckCandidate(2, "one"), Single<CheckCandidate>(m.Handle(new ApplyRequested(2, "one"))));
    }

    [Fact]
    public void Applies_run_one_after_the_other()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        Assert.Empty(m.Handle(new ApplyRequested(2, "two")));
        m.Handle(new CandidateChecked(1, null));
        var first = m.Handle(new ReloadCompleted(1, 1, null, true, false));
        Assert.Equal(ConfigApplyOutcome.Reloaded, Completed(first, 1).Outcome);
        Assert.Equal(new CheckCandidate(2, "two"), Single<CheckCandidate>(first));
    }

    [Fact]
    public void A_late_result_of_another_apply_is_ignored()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        Assert.Empty(m.Handle(new CandidateChecked(7, null)));
        Assert.Empty(m.Handle(new ReloadCompleted(1, 1, null, true, false))); // not reloading yet
    }

    // ---- a death during an apply ------------------------------------------------------------------------------

    [Fact]
    public void A_death_during_nginx_t_reaches_vrrp_first_and_the_apply_then_reloads_the_restarted_master()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));

        var died = m.Handle(new ChildExited(1, "master pid 101 exited (killed by signal 9)"));
        Assert.Equal([new RaiseMasterExited(), new RaiseHealthChanged(NginxHealth.Restarting)], died.Take(2));
        // The orphaned workers go before the new master starts (they hold the listening sockets).
        Assert.True(died.ToList().IndexOf(new KillProcessGroup(101)) < died.ToList().IndexOf(new SpawnChild(2)));
        Assert.Equal(new SpawnChild(2), Single<SpawnChild>(died));
        Assert.Empty(died.OfType<CompleteApply>());

        // The check ends while the restart runs: the file is installed, the new master gets it once it is up.
        Assert.Equal([new InstallCandidate()], m.Handle(new CandidateChecked(1, null)));
        m.Handle(new ChildSpawned(2, 102));
        var up = m.Handle(new StartConfirmed(2, "master pid 102 up"));
        Assert.Equal([NginxHealth.Healthy], Healths(up));
        Assert.Equal(new ReloadMaster(1, 2, 102), Single<ReloadMaster>(up));
        Assert.Equal(ConfigApplyOutcome.Reloaded, Completed(m.Handle(new ReloadCompleted(1, 2, null, true, false)), 1).Outcome);
    }

    [Fact]
    public void A_death_during_nginx_t_whose_restart_fails_starts_the_checked_config_at_once()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        m.Handle(new ChildExited(1, "killed"));
        m.Handle(new CandidateChecked(1, null));
        var failed = m.Handle(new StartFailed(2, "bind() failed"));
        Assert.Equal([NginxHealth.Down], Healths(failed));
        Assert.Equal(new SpawnChild(3), Single<SpawnChild>(failed));
        Assert.Empty(failed.OfType<ScheduleStart>());
        Assert.Equal(ConfigApplyOutcome.Started, Completed(m.Handle(new StartConfirmed(3, "up")), 1).Outcome);
    }

    [Fact]
    public void A_death_during_the_reload_is_handled_first_and_the_apply_is_judged_by_the_restart()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        m.Handle(new CandidateChecked(1, null));
        var died = m.Handle(new ChildExited(1, "killed"));
        Assert.IsType<RaiseMasterExited>(died[0]);
        Assert.Empty(m.Handle(new ReloadCompleted(1, 1, "master pid 101 exited during the reload", true, MasterGone: true))
            .OfType<CompleteApply>());
        Assert.Equal(ConfigApplyOutcome.Started, Completed(m.Handle(new StartConfirmed(2, "up")), 1).Outcome);
    }

    [Fact]
    public void A_reload_that_finds_the_master_dead_before_its_exit_arrives_waits_for_that_exit()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        m.Handle(new CandidateChecked(1, null));
        var gone = m.Handle(new ReloadCompleted(1, 1, "SIGHUP to master pid 101 failed (errno 3)", Signalled: false, MasterGone: true));
        Assert.Empty(gone);
        Assert.Equal(NginxHealth.Healthy, m.Current);

        var died = m.Handle(new ChildExited(1, "killed"));
        Assert.IsType<RaiseMasterExited>(died[0]);
        Assert.Empty(died.OfType<CompleteApply>());
        Assert.Equal(ConfigApplyOutcome.Started, Completed(m.Handle(new StartConfirmed(2, "up")), 1).Outcome);
        Assert.Equal(0, m.ReloadCount);
    }

    [Fact]
    public void A_death_during_the_reload_with_a_restart_backing_off_reports_the_start_failed()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        m.Handle(new CandidateChecked(1, null));
        m.Handle(new ChildExited(1, "killed"));
        var failed = m.Handle(new StartFailed(2, "bind() failed"));
        Assert.Single(failed.OfType<ScheduleStart>());
        var judged = m.Handle(new ReloadCompleted(1, 1, "master pid 101 exited during the reload", true, true));
        Assert.Equal(ConfigApplyOutcome.StartFailed, Completed(judged, 1).Outcome);
    }

    // ---- child lifecycle --------------------------------------------------------------------------------------

    [Fact]
    public void A_healthy_master_that_dies_is_announced_then_restarted_at_once_and_a_second_death_backs_off()
    {
        var m = HealthyChild();
        var died = m.Handle(new ChildExited(1, "master pid 101 exited (exit code 1)"));
        Assert.Equal([new RaiseMasterExited(), new RaiseHealthChanged(NginxHealth.Restarting)], died.Take(2));
        Assert.Contains(new KillProcessGroup(101), died);
        Assert.Null(m.MasterPid);
        m.Handle(new ChildSpawned(2, 102));
        m.Handle(new StartConfirmed(2, "up"));

        var again = m.Handle(new ChildExited(2, "master pid 102 exited (exit code 1)"));
        Assert.Equal([NginxHealth.Down], Healths(again));
        Assert.Equal(new ScheduleStart(1, TimeSpan.FromMilliseconds(100)), Single<ScheduleStart>(again));
        Assert.Empty(again.OfType<SpawnChild>());
    }

    [Fact]
    public void An_exit_during_a_start_is_left_to_the_start_wait_and_an_exit_of_an_old_generation_is_ignored()
    {
        var m = HealthyChild();
        m.Handle(new ChildExited(1, "killed"));
        Assert.Empty(m.Handle(new ChildExited(2, "exited while starting")));
        Assert.Empty(m.Handle(new ChildExited(1, "killed")));
        var failed = m.Handle(new StartFailed(2, "nginx exited with code 1 while starting: bind() failed"));
        Assert.Equal([NginxHealth.Down], Healths(failed));
    }

    [Fact]
    public void A_confirmation_queued_behind_the_exit_of_its_master_counts_as_a_failed_start()
    {
        var m = HealthyChild();
        m.Handle(new ChildExited(1, "killed"));
        m.Handle(new ChildSpawned(2, 102));
        m.Handle(new ChildExited(2, "master pid 102 exited (exit code 1)"));
        var confirmed = m.Handle(new StartConfirmed(2, "master pid 102 up"));
        Assert.Contains(new KillProcessGroup(102), confirmed);
        Assert.Equal([NginxHealth.Down], Healths(confirmed));
        Assert.DoesNotContain(NginxHealth.Healthy, Healths(confirmed));
    }

    [Fact]
    public void Only_the_current_restart_timer_starts_nginx_and_a_new_config_does_not_wait_for_it()
    {
        var m = HealthyChild();
        m.Handle(new ChildExited(1, "killed"));
        m.Handle(new StartFailed(2, "bind() failed"));
        Assert.Empty(m.Handle(new RestartTimerFired(99)));
        Assert.Equal(new SpawnChild(3), Single<SpawnChild>(m.Handle(new RestartTimerFired(1))));
        var failed = m.Handle(new StartFailed(3, "bind() failed"));
        var timer = Single<ScheduleStart>(failed).Timer;

        m.Handle(new ApplyRequested(1, "one"));
        var checkedOk = m.Handle(new CandidateChecked(1, null));
        Assert.Equal([new InstallCandidate(), new CancelStartTimer(), new SpawnChild(4)], checkedOk);
        Assert.Empty(m.Handle(new RestartTimerFired(timer)));
    }

    // ---- probes -----------------------------------------------------------------------------------------------

    [Fact]
    public void Failed_probes_of_the_current_master_fault_and_kill_it_and_results_about_an_old_master_are_ignored()
    {
        var m = HealthyChild(hasProbe: true);
        Assert.Equal(1, m.ProbeGeneration);
        Assert.Empty(m.Handle(new ProbeCompleted(1, "timed out")));
        Assert.Empty(m.Handle(new ProbeCompleted(0, "timed out")));
        var down = m.Handle(new ProbeCompleted(1, "timed out"));
        Assert.Equal([NginxHealth.Down], Healths(down));
        Assert.Contains(new KillProcessGroup(101), down);
        Assert.Null(m.ProbeGeneration);
    }

    // ---- sidecar ----------------------------------------------------------------------------------------------

    [Fact]
    public void Sidecar_master_found_is_healthy_its_exit_is_announced_before_down_and_an_apply_then_only_writes()
    {
        var m = Machine(NginxSupervisionMode.Sidecar);
        var started = m.Handle(new SupervisionStarted("zero"));
        Assert.Contains(new WatchSidecar(), started);
        Assert.Empty(started.OfType<KillLeftoverMaster>());
        Assert.Equal([NginxHealth.Healthy], Healths(m.Handle(new SidecarMasterFound(300))));
        Assert.Equal(300, m.MasterPid);

        Assert.Empty(m.Handle(new SidecarMasterExited(299)));
        var exited = m.Handle(new SidecarMasterExited(300));
        Assert.Equal([new RaiseMasterExited(), new RaiseHealthChanged(NginxHealth.Down)], exited.Take(2));
        Assert.Empty(exited.OfType<SpawnChild>());

        m.Handle(new ApplyRequested(1, "one"));
        var written = m.Handle(new CandidateChecked(1, null));
        Assert.Equal(ConfigApplyOutcome.WrittenNotRunning, Completed(written, 1).Outcome);
        Assert.Empty(written.OfType<SpawnChild>());
    }

    [Fact]
    public void Sidecar_with_a_probe_is_healthy_only_once_the_probe_passes()
    {
        var m = Machine(NginxSupervisionMode.Sidecar, hasProbe: true);
        m.Handle(new SupervisionStarted(null));
        Assert.Empty(Healths(m.Handle(new SidecarMasterFound(300))));
        Assert.Equal(1, m.ProbeGeneration);
        Assert.Equal([NginxHealth.Healthy], Healths(m.Handle(new ProbeCompleted(1, null))));
        Assert.Equal(new ReloadMaster(1, 1, 300), Single<ReloadMaster>(Reload(m, 1, "one")));
    }

    private static IReadOnlyList<SupervisorEffect> Reload(NginxSupervisorMachine m, long id, string text)
    {
        m.Handle(new ApplyRequested(id, text));
        return m.Handle(new CandidateChecked(id, null));
    }

    // ---- stop -------------------------------------------------------------------------------------------------

    [Fact]
    public void Stop_refuses_the_applies_in_flight_stops_the_master_and_ignores_everything_until_it_is_gone()
    {
        var m = HealthyChild();
        m.Handle(new ApplyRequested(1, "one"));
        m.Handle(new ApplyRequested(2, "two"));
        var stop = m.Handle(new StopRequested());
        Assert.Contains(new CancelEdges(), stop);
        Assert.Equal(new StopMaster(1), Single<StopMaster>(stop));
        Assert.Equal(ConfigApplyOutcome.Rejected, Completed(stop, 1).Outcome);
        Assert.Equal(ConfigApplyOutcome.Rejected, Completed(stop, 2).Outcome);
        Assert.True(m.Stopping);

        Assert.Empty(m.Handle(new ChildExited(1, "quit")));
        Assert.Empty(m.Handle(new CandidateChecked(1, null)));
        Assert.Equal(ConfigApplyOutcome.Rejected, Completed(m.Handle(new ApplyRequested(3, "three")), 3).Outcome);
        var finished = m.Handle(new StopFinished());
        Assert.Equal([NginxHealth.Stopped], Healths(finished));
        Assert.IsType<EndLoop>(finished[^1]);
    }

    [Fact]
    public void Stop_during_a_backoff_cancels_the_timer_and_has_no_master_to_stop()
    {
        var m = HealthyChild();
        m.Handle(new ChildExited(1, "killed"));
        m.Handle(new StartFailed(2, "bind() failed"));
        var stop = m.Handle(new StopRequested());
        Assert.Contains(new CancelStartTimer(), stop);
        Assert.Equal(new StopMaster(null), Single<StopMaster>(stop));
    }
}
