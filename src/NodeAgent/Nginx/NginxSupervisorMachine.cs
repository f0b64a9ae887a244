namespace NginxHa.NodeAgent.Nginx;

/// <summary>
/// The supervisor's decisions, pure: one event in, the effects out, in order. It runs on the supervisor's one loop
/// thread, so events never interleave; everything slow (nginx -t, a start's confirmation, a reload's confirmation,
/// probes) runs at the edges and comes back as an event. A master's exit is therefore handled the moment it is
/// posted, whatever apply is under way: the node hears of it first, and the apply's result is judged afterwards
/// against the state the exit left. Health rules live in <see cref="NginxHealthState"/>.
/// </summary>
public sealed class NginxSupervisorMachine
{
    /// <summary>The apply id of the check of the config in place at start.</summary>
    public const long StartupApply = 0;

    private readonly NginxSupervisionMode _mode;
    private readonly NginxHealthState _health;
    private readonly Queue<ApplyRequested> _queued = new();
    private List<SupervisorEffect> _effects = [];

    private bool _started;
    private bool _stopping;
    private string? _runningConfig;
    private Child? _child;
    private int? _sidecarPid;
    private long _sidecarGeneration;
    private long? _timer;
    private long _timerSequence;
    private Apply? _apply;

    public NginxSupervisorMachine(NginxSupervisionMode mode, NginxHealthPolicy policy, TimeProvider time)
    {
        _mode = mode;
        _health = new NginxHealthState(mode, policy, time);
    }

    public NginxHealth Current => _health.Current;

    public string Reason => _health.Reason;

    /// <summary>nginx's message for the last rejected config; null once a config is accepted.</summary>
    public string? LastError { get; private set; }

    /// <summary>Masters started (child) or found (sidecar) so far; also the generation of the newest one.</summary>
    public long MasterStarts { get; private set; }

    public int ReloadCount { get; private set; }

    /// <summary>PID of the master we run (once spawned) or watch.</summary>
    public int? MasterPid => _mode == NginxSupervisionMode.Child ? _child?.Pid : _sidecarPid;

    /// <summary>The generation whose health a probe should check now, or null when no probe result would matter.</summary>
    public long? ProbeGeneration => _stopping || !_health.WantsProbe ? null
        : _mode == NginxSupervisionMode.Child ? _child is { Confirmed: true } c ? c.Generation : null
        : _sidecarPid is null ? null : _sidecarGeneration;

    public bool Stopping => _stopping;

    public IReadOnlyList<SupervisorEffect> Handle(SupervisorEvent e)
    {
        _effects = [];
        if (_stopping && e is not StopFinished)
        {
            // Only the stop's own end matters now; a late apply is refused rather than left waiting.
            if (e is ApplyRequested late) Emit(new CompleteApply(late.Id, Refused("the supervisor is stopping")));
            return _effects;
        }
        switch (e)
        {
            case SupervisionStarted s: OnStarted(s); break;
            case ApplyRequested a: OnApplyRequested(a); break;
            case CandidateChecked c: OnCandidateChecked(c); break;
            case ChildSpawned s: OnChildSpawned(s); break;
            case StartConfirmed s: OnStartConfirmed(s); break;
            case StartFailed f: OnStartFailed(f); break;
            case ChildExited x: OnChildExited(x); break;
            case SidecarMasterFound f: OnSidecarFound(f); break;
            case SidecarMasterExited x: OnSidecarExited(x); break;
            case ProbeCompleted p: OnProbe(p); break;
            case RestartTimerFired t: OnTimer(t); break;
            case ReloadCompleted r: OnReloadCompleted(r); break;
            case StopRequested: OnStopRequested(); break;
            case StopFinished: OnStopFinished(); break;
            default: throw new ArgumentException($"unknown supervisor event {e.GetType().Name}", nameof(e));
        }
        return _effects;
    }

    // ---- start and stop ---------------------------------------------------------------------------------------

    private void OnStarted(SupervisionStarted e)
    {
        if (_started) throw new InvalidOperationException("The supervisor was already started.");
        _started = true;
        Observe(s => { s.Begin(); return NginxDecision.None; });
        _runningConfig = e.ConfigInPlace;
        if (_mode == NginxSupervisionMode.Sidecar)
        {
            Emit(new WatchSidecar());
            Emit(new CompleteApply(StartupApply, new ConfigApplyResult(ConfigApplyOutcome.Unchanged)));
            return;
        }
        Emit(new KillLeftoverMaster());
        if (_runningConfig is null)
        {
            Emit(new LogLine("nginx: no config at the live path yet; waiting for the first one"));
            Emit(new CompleteApply(StartupApply, new ConfigApplyResult(ConfigApplyOutcome.Unchanged)));
            return;
        }
        _apply = new Apply(StartupApply, null, ApplyStep.Checking);
        Emit(new CheckCandidate(StartupApply, null));
    }

    private void OnStopRequested()
    {
        _stopping = true;
        CancelTimer();
        Emit(new CancelEdges());
        if (_apply is { } apply) Emit(new CompleteApply(apply.Id, Refused("the supervisor is stopping")));
        while (_queued.TryDequeue(out var queued)) Emit(new CompleteApply(queued.Id, Refused("the supervisor is stopping")));
        _apply = null;
        Emit(new StopMaster(_child?.Generation));
        _child = null;
        _sidecarPid = null;
    }

    private void OnStopFinished()
    {
        Observe(s => { s.Stopped(); return NginxDecision.None; });
        Emit(new EndLoop());
    }

    // ---- applies ----------------------------------------------------------------------------------------------

    private void OnApplyRequested(ApplyRequested e)
    {
        if (!_started)
        {
            Emit(new CompleteApply(e.Id, Refused("the supervisor is not started")));
            return;
        }
        _queued.Enqueue(e);
        if (_apply is null) BeginNextApply();
    }

    private void BeginNextApply()
    {
        while (_apply is null && _queued.TryDequeue(out var next))
        {
            if (string.Equals(_runningConfig, next.Text, StringComparison.Ordinal))
            {
                Emit(new CompleteApply(next.Id, new ConfigApplyResult(ConfigApplyOutcome.Unchanged)));
                continue;
            }
            _apply = new Apply(next.Id, next.Text, ApplyStep.Checking);
            Emit(new CheckCandidate(next.Id, next.Text));
        }
    }

    private void Finish(ConfigApplyResult result)
    {
        Emit(new CompleteApply(_apply!.Id, result));
        _apply = null;
        BeginNextApply();
    }

    private void OnCandidateChecked(CandidateChecked e)
    {
        if (_apply is not { Step: ApplyStep.Checking } apply || apply.Id != e.Id) return;
        if (e.Rejection is { } rejection)
        {
            LastError = rejection;
            if (apply.Id == StartupApply)
            {
                _runningConfig = null;
                Emit(new LogLine($"nginx: config in place is rejected by nginx -t: {rejection}"));
                Observe(s => { s.NoUsableConfig(rejection); return NginxDecision.None; });
            }
            else
            {
                Emit(new DiscardCandidate());
                Emit(new LogLine($"nginx: config rejected by nginx -t, keeping the running config: {rejection}"));
                if (_mode == NginxSupervisionMode.Child && _runningConfig is null)
                    Observe(s => { s.NoUsableConfig(rejection); return NginxDecision.None; });
            }
            Finish(new ConfigApplyResult(ConfigApplyOutcome.Rejected, rejection));
            return;
        }
        if (apply.Text is not null)
        {
            // rename(2) within one directory: nginx never reads a half-written file.
            Emit(new InstallCandidate());
            apply.Previous = _runningConfig;
            _runningConfig = apply.Text;
            LastError = null;
        }
        TakeEffect(apply);
    }

    /// <summary>The checked config is in place: reload the master, start one, or wait for the start under way.</summary>
    private void TakeEffect(Apply apply)
    {
        if (_mode == NginxSupervisionMode.Child && _child is { Confirmed: false })
        {
            // That start reads the file as it was; once it settles, the new text is reloaded into it.
            apply.Step = ApplyStep.WaitingForStart;
            return;
        }
        if (LiveMaster() is { } master)
        {
            apply.Step = ApplyStep.Reloading;
            Emit(new ReloadMaster(apply.Id, master.Generation, master.Pid));
            return;
        }
        if (_mode == NginxSupervisionMode.Sidecar)
        {
            Emit(new LogLine("nginx: config accepted; no live sidecar master, it takes effect when nginx starts"));
            Finish(new ConfigApplyResult(ConfigApplyOutcome.WrittenNotRunning));
            return;
        }
        // Not running (first config, a backoff pending, or failed): a new config is worth an immediate start.
        CancelTimer();
        apply.Step = ApplyStep.Starting;
        StartChild();
    }

    private void OnReloadCompleted(ReloadCompleted e)
    {
        if (_apply is not { Step: ApplyStep.Reloading } apply || apply.Id != e.Id) return;
        if (e.Signalled) ReloadCount++;
        bool sameMaster = LiveMaster() is { } master && master.Generation == e.Generation;
        if (sameMaster && e.MasterGone)
        {
            // Its exit is on the way: the apply is judged once that exit has been handled.
            apply.AwaitingExit = true;
            return;
        }
        if (sameMaster && e.Failure is null)
        {
            Emit(new LogLine($"nginx: config accepted, reload confirmed by new workers of master pid {MasterPid}"));
            Finish(new ConfigApplyResult(ConfigApplyOutcome.Reloaded));
            return;
        }
        if (sameMaster)
        {
            var failure = e.Failure!;
            LastError = failure;
            Emit(new LogLine($"nginx: reload failed at runtime, the old config keeps serving: {failure}"));
            // Put the running config back, so a restart starts what serves and the same change can be retried.
            if (apply.Previous is { } previous) Emit(new RestoreConfig(previous));
            _runningConfig = apply.Previous;
            Finish(new ConfigApplyResult(ConfigApplyOutcome.ReloadFailed, failure));
            return;
        }
        // The master died while we reloaded it (its exit was handled already): the checked config is in place, and
        // whatever replaces that master runs it.
        Emit(new LogLine($"nginx: the master exited during the reload ({e.Failure ?? "no reply"}); the new config takes effect with the next master"));
        SettleAfterMasterChange(apply);
    }

    /// <summary>The master an apply targeted is gone: judge the apply by what runs now.</summary>
    private void SettleAfterMasterChange(Apply apply)
    {
        if (_mode == NginxSupervisionMode.Sidecar)
        {
            Finish(new ConfigApplyResult(LiveMaster() is null ? ConfigApplyOutcome.WrittenNotRunning : ConfigApplyOutcome.Reloaded));
            return;
        }
        switch (_child)
        {
            case { Confirmed: true }:
                Finish(new ConfigApplyResult(ConfigApplyOutcome.Started));
                break;
            case { Confirmed: false }:
                apply.Step = ApplyStep.Starting;
                break;
            default:
                Finish(new ConfigApplyResult(ConfigApplyOutcome.StartFailed, _health.Reason));
                break;
        }
    }

    // ---- child lifecycle --------------------------------------------------------------------------------------

    private void StartChild()
    {
        var generation = ++MasterStarts;
        _child = new Child(generation);
        Emit(new SpawnChild(generation));
    }

    private void OnChildSpawned(ChildSpawned e)
    {
        if (_child is { } child && child.Generation == e.Generation) child.Pid = e.Pid;
    }

    private void OnStartConfirmed(StartConfirmed e)
    {
        if (_child is not { Confirmed: false } child || child.Generation != e.Generation) return;
        if (child.ExitReason is { } died)
        {
            if (child.Pid is { } pid) Emit(new KillProcessGroup(pid));
            OnStartFailed(new StartFailed(e.Generation, $"nginx exited right after starting: {died}"));
            return;
        }
        child.Confirmed = true;
        Emit(new LogLine($"nginx: {e.Detail}"));
        Observe(s => { s.StartSucceeded(e.Detail); return NginxDecision.None; });
        switch (_apply)
        {
            case { Step: ApplyStep.Starting }:
                Finish(new ConfigApplyResult(ConfigApplyOutcome.Started));
                break;
            case { Step: ApplyStep.WaitingForStart } waiting:
                TakeEffect(waiting);
                break;
        }
    }

    private void OnStartFailed(StartFailed e)
    {
        if (_child is not { Confirmed: false } child || child.Generation != e.Generation) return;
        _child = null;
        var decision = Observe(s => s.StartFailed(e.Reason));
        if (_apply is { Step: ApplyStep.WaitingForStart } waiting)
        {
            // The apply's config is in place: start it now rather than the one that just failed.
            TakeEffect(waiting);
            return;
        }
        Follow(decision);
        if (_apply is { Step: ApplyStep.Starting } && _child is null)
            Finish(new ConfigApplyResult(ConfigApplyOutcome.StartFailed, _health.Reason));
    }

    private void OnChildExited(ChildExited e)
    {
        if (_child is not { } child || child.Generation != e.Generation) return;
        if (!child.Confirmed)
        {
            // An exit during a start is that start's failure: its own wait reports it, with nginx's stderr. Kept in
            // case the wait saw the master up just before it died, and its confirmation is still queued.
            child.ExitReason = e.Reason;
            return;
        }
        _child = null;
        // VRRP first: the exit, then the health change it causes; the clean-up and the restart after them.
        Emit(new RaiseMasterExited());
        var decision = Observe(s => s.MasterExited(e.Reason));
        // Orphaned workers keep the listening sockets: clear the whole group before restarting.
        if (child.Pid is { } pid) Emit(new KillProcessGroup(pid));
        Emit(new LogLine($"nginx: {e.Reason}"));
        Follow(decision);
        SettleReloadOfDeadMaster();
    }

    /// <summary>A reload found its master gone before the exit was handled; now it has been.</summary>
    private void SettleReloadOfDeadMaster()
    {
        if (_apply is { Step: ApplyStep.Reloading, AwaitingExit: true } apply) SettleAfterMasterChange(apply);
    }

    private void OnTimer(RestartTimerFired e)
    {
        if (_timer != e.Timer || _child is not null) return;
        _timer = null;
        StartChild();
    }

    private void Follow(NginxDecision decision)
    {
        switch (decision.Action)
        {
            case SupervisorAction.StartNow:
                CancelTimer();
                StartChild();
                break;
            case SupervisorAction.StartAfterDelay:
                CancelTimer();
                _timer = ++_timerSequence;
                Emit(new LogLine($"nginx: next start attempt in {decision.Delay.TotalSeconds:0.###} s"));
                Emit(new ScheduleStart(_timer.Value, decision.Delay));
                break;
        }
    }

    private void CancelTimer()
    {
        if (_timer is null) return;
        _timer = null;
        Emit(new CancelStartTimer());
    }

    // ---- sidecar and probes -----------------------------------------------------------------------------------

    private void OnSidecarFound(SidecarMasterFound e)
    {
        _sidecarPid = e.Pid;
        _sidecarGeneration = ++MasterStarts;
        Emit(new LogLine($"nginx: watching sidecar master pid {e.Pid}"));
        Observe(s => { s.SidecarMasterFound(e.Pid); return NginxDecision.None; });
    }

    private void OnSidecarExited(SidecarMasterExited e)
    {
        if (_sidecarPid != e.Pid) return;
        _sidecarPid = null;
        Emit(new RaiseMasterExited());
        var reason = $"sidecar master pid {e.Pid} exited";
        Observe(s => s.MasterExited(reason));
        Emit(new LogLine($"nginx: {reason}"));
        SettleReloadOfDeadMaster();
    }

    private void OnProbe(ProbeCompleted e)
    {
        // A result about a master that has since been replaced says nothing about the new one.
        if (ProbeGeneration != e.Generation) return;
        var decision = Observe(s => e.Failure is null ? s.ProbeSucceeded() : s.ProbeFailed(e.Failure));
        if (decision.Action == SupervisorAction.KillMaster && _child?.Pid is { } pid)
        {
            Emit(new LogLine($"nginx: killing unresponsive master pid {pid}; its exit triggers the restart"));
            Emit(new KillProcessGroup(pid));
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private (long Generation, int Pid)? LiveMaster() => _mode == NginxSupervisionMode.Child
        ? _child is { Confirmed: true, Pid: { } pid } child ? (child.Generation, pid) : null
        : _sidecarPid is { } sidecar ? (_sidecarGeneration, sidecar) : null;

    private NginxDecision Observe(Func<NginxHealthState, NginxDecision> input)
    {
        var before = _health.Current;
        var decision = input(_health);
        if (before != _health.Current)
        {
            Emit(new RaiseHealthChanged(_health.Current));
            Emit(new LogLine($"nginx: health {before} -> {_health.Current}: {_health.Reason}"));
        }
        return decision;
    }

    private void Emit(SupervisorEffect effect) => _effects.Add(effect);

    private static ConfigApplyResult Refused(string why) => new(ConfigApplyOutcome.Rejected, why);

    private enum ApplyStep
    {
        Checking,
        WaitingForStart,
        Reloading,
        Starting,
    }

    /// <param name="Text">null for the check of the config in place at start.</param>
    private sealed class Apply(long id, string? text, ApplyStep step)
    {
        public long Id { get; } = id;
        public string? Text { get; } = text;
        public ApplyStep Step { get; set; } = step;
        public string? Previous { get; set; }
        public bool AwaitingExit { get; set; }
    }

    private sealed class Child(long generation)
    {
        public long Generation { get; } = generation;
        public int? Pid { get; set; }
        public bool Confirmed { get; set; }
        public string? ExitReason { get; set; }
    }
}
