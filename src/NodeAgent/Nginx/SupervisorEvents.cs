namespace NginxHa.NodeAgent.Nginx;

/// <summary>What happened, posted to the supervisor's one event queue by the edges (process exits, timers, checks).</summary>
public abstract record SupervisorEvent;

/// <summary>Supervision begins; <paramref name="ConfigInPlace"/> is the live config file's text, if there is one.</summary>
public sealed record SupervisionStarted(string? ConfigInPlace) : SupervisorEvent;

/// <summary>A caller wants this config applied; its result is a <see cref="CompleteApply"/> with the same id.</summary>
public sealed record ApplyRequested(long Id, string Text) : SupervisorEvent;

/// <summary>The candidate was written and nginx -t ran (off the loop); null rejection means accepted.</summary>
public sealed record CandidateChecked(long Id, string? Rejection) : SupervisorEvent;

/// <summary>Child mode: the start of generation <paramref name="Generation"/> has a pid.</summary>
public sealed record ChildSpawned(long Generation, int Pid) : SupervisorEvent;

/// <summary>Child mode: our pid is in the pid file and the probe (if any) passed.</summary>
public sealed record StartConfirmed(long Generation, string Detail) : SupervisorEvent;

/// <summary>Child mode: the start did not bring nginx up (its process group is already cleared).</summary>
public sealed record StartFailed(long Generation, string Reason) : SupervisorEvent;

/// <summary>Child mode: the master of this generation exited (Process.Exited).</summary>
public sealed record ChildExited(long Generation, string Reason) : SupervisorEvent;

/// <summary>Sidecar mode: the pid file names a live nginx master.</summary>
public sealed record SidecarMasterFound(int Pid) : SupervisorEvent;

/// <summary>Sidecar mode: the watched master's pidfd became readable.</summary>
public sealed record SidecarMasterExited(int Pid) : SupervisorEvent;

/// <summary>A health probe of the master of this generation finished; null failure means it passed.</summary>
public sealed record ProbeCompleted(long Generation, string? Failure) : SupervisorEvent;

public sealed record RestartTimerFired(long Timer) : SupervisorEvent;

/// <summary>A reload's SIGHUP and confirmation finished (off the loop). <paramref name="Signalled"/>: the SIGHUP was delivered;
/// <paramref name="MasterGone"/>: the master was found dead (its exit event may still be on the way).</summary>
public sealed record ReloadCompleted(long Id, long Generation, string? Failure, bool Signalled, bool MasterGone) : SupervisorEvent;

public sealed record StopRequested : SupervisorEvent;

/// <summary>The master was asked to quit and is gone (or there was none).</summary>
public sealed record StopFinished : SupervisorEvent;

/// <summary>What the supervisor's edges must do, in order, after an event.</summary>
public abstract record SupervisorEffect;

public sealed record LogLine(string Text) : SupervisorEffect;

/// <summary>Tell the node (VRRP) about the new health; raised in the order the states were entered.</summary>
public sealed record RaiseHealthChanged(NginxHealth Health) : SupervisorEffect;

/// <summary>Tell the node the master died, before anything else about it.</summary>
public sealed record RaiseMasterExited : SupervisorEffect;

public sealed record KillLeftoverMaster : SupervisorEffect;

public sealed record WatchSidecar : SupervisorEffect;

/// <summary>Off the loop: write <paramref name="Text"/> as the candidate and run nginx -t on it (null text: check the live config).</summary>
public sealed record CheckCandidate(long Id, string? Text) : SupervisorEffect;

/// <summary>rename(2) the checked candidate over the live config.</summary>
public sealed record InstallCandidate : SupervisorEffect;

public sealed record DiscardCandidate : SupervisorEffect;

/// <summary>Put this text back as the live config (a reload failed at runtime).</summary>
public sealed record RestoreConfig(string Text) : SupervisorEffect;

/// <summary>Start nginx as generation <paramref name="Generation"/>; results come back as spawned/confirmed/failed/exited events.</summary>
public sealed record SpawnChild(long Generation) : SupervisorEffect;

/// <summary>SIGKILL the master's whole process group (orphaned workers hold the listening sockets).</summary>
public sealed record KillProcessGroup(int Pid) : SupervisorEffect;

public sealed record ScheduleStart(long Timer, TimeSpan Delay) : SupervisorEffect;

public sealed record CancelStartTimer : SupervisorEffect;

/// <summary>Off the loop: SIGHUP the master and wait for new workers or an [emerg] line.</summary>
public sealed record ReloadMaster(long Id, long Generation, int Pid) : SupervisorEffect;

public sealed record CompleteApply(long Id, ConfigApplyResult Result) : SupervisorEffect;

/// <summary>Cancel the edges' loops and waits (probe, sidecar watch, checks, start waits).</summary>
public sealed record CancelEdges : SupervisorEffect;

/// <summary>Off the loop: SIGQUIT the child of this generation (if any), kill its group after the grace time, then post StopFinished.</summary>
public sealed record StopMaster(long? ChildGeneration) : SupervisorEffect;

/// <summary>The queue ends: nothing more is handled.</summary>
public sealed record EndLoop : SupervisorEffect;
