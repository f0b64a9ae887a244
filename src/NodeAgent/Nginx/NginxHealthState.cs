namespace NginxHa.NodeAgent.Nginx;

public enum NginxSupervisionMode
{
    /// <summary>nginx runs as our child process; we start, restart and stop it.</summary>
    Child,

    /// <summary>nginx is started by someone else and found through its pid file; we only watch and signal it.</summary>
    Sidecar,
}

/// <summary>What the supervisor must do after an input to <see cref="NginxHealthState"/>.</summary>
public enum SupervisorAction
{
    None,
    StartNow,
    StartAfterDelay,
    KillMaster,
}

public readonly record struct NginxDecision(SupervisorAction Action, TimeSpan Delay)
{
    public static NginxDecision None { get; } = new(SupervisorAction.None, TimeSpan.Zero);
    public static NginxDecision Kill { get; } = new(SupervisorAction.KillMaster, TimeSpan.Zero);

    public static NginxDecision StartIn(TimeSpan delay) =>
        delay == TimeSpan.Zero ? new(SupervisorAction.StartNow, delay) : new(SupervisorAction.StartAfterDelay, delay);
}

/// <param name="MaxStartAttempts">Consecutive failed starts after which the state is Failed (retries go on at the ladder's ceiling).</param>
/// <param name="ProbeFailureThreshold">Consecutive failed probes after which a running nginx counts as down.</param>
/// <param name="HasProbe">Whether a health probe runs; without one a live master counts as healthy.</param>
public sealed record NginxHealthPolicy(int MaxStartAttempts, int ProbeFailureThreshold, bool HasProbe, RestartBackoffOptions Backoff)
{
    public void Validate()
    {
        if (MaxStartAttempts < 1) throw new ArgumentException($"MaxStartAttempts must be at least 1, got {MaxStartAttempts}.");
        if (ProbeFailureThreshold < 1) throw new ArgumentException($"ProbeFailureThreshold must be at least 1, got {ProbeFailureThreshold}.");
        Backoff.Validate();
    }
}

/// <summary>
/// Pure health state machine of the nginx supervisor: takes observations (start outcome, process exit, probe result,
/// pid-file sightings) and returns the new <see cref="Current"/> plus what to do next. No I/O, time from the TimeProvider.
/// </summary>
public sealed class NginxHealthState
{
    private readonly NginxSupervisionMode _mode;
    private readonly NginxHealthPolicy _policy;
    private readonly RestartBackoff _backoff;
    private int _probeFailures;
    private bool _sidecarMasterAlive;

    public NginxHealthState(NginxSupervisionMode mode, NginxHealthPolicy policy, TimeProvider time)
    {
        policy.Validate();
        _mode = mode;
        _policy = policy;
        _backoff = new RestartBackoff(policy.Backoff, time);
    }

    public NginxHealth Current { get; private set; } = NginxHealth.Stopped;

    /// <summary>Why the state is what it is (for logs and status), never config content.</summary>
    public string Reason { get; private set; } = "not started";

    public int ConsecutiveStartFailures { get; private set; }

    /// <summary>Whether probe results matter now: a master we believe runs.</summary>
    public bool WantsProbe => _mode == NginxSupervisionMode.Child ? Current == NginxHealth.Healthy : _sidecarMasterAlive;

    /// <summary>Supervision begins (child: a start is about to run; sidecar: we look for a master).</summary>
    public void Begin()
    {
        if (Current is NginxHealth.Stopped) Set(NginxHealth.Starting, "starting");
    }

    /// <summary>Child mode: a start was confirmed (pid file written by our child, probe passed if configured).</summary>
    public void StartSucceeded(string detail)
    {
        ConsecutiveStartFailures = 0;
        _probeFailures = 0;
        _backoff.MarkUp();
        Set(NginxHealth.Healthy, detail);
    }

    /// <summary>Child mode: a start attempt did not bring nginx up. Always Down or Failed: the immediate restart did not work.</summary>
    public NginxDecision StartFailed(string reason)
    {
        ConsecutiveStartFailures++;
        var exhausted = ConsecutiveStartFailures >= _policy.MaxStartAttempts;
        Set(exhausted ? NginxHealth.Failed : NginxHealth.Down,
            exhausted ? $"{ConsecutiveStartFailures} consecutive failed starts, last: {reason}" : reason);
        return NginxDecision.StartIn(_backoff.NextDelay());
    }

    /// <summary>The master we believed running exited (child: Process.Exited; sidecar: its pidfd became readable).</summary>
    public NginxDecision MasterExited(string reason)
    {
        _probeFailures = 0;
        if (_mode == NginxSupervisionMode.Sidecar)
        {
            _sidecarMasterAlive = false;
            Set(NginxHealth.Down, $"{reason}; waiting for a new master in the pid file");
            return NginxDecision.None;
        }

        var delay = _backoff.NextDelay();
        // Only a healthy nginx gets the non-faulting Restarting state, and only when the restart is immediate.
        if (Current == NginxHealth.Healthy)
            Set(delay == TimeSpan.Zero ? NginxHealth.Restarting : NginxHealth.Down,
                delay == TimeSpan.Zero ? $"{reason}; restarting now" : $"{reason}; restarting in {delay.TotalSeconds:0.###} s");
        else
            Reason = reason;
        return NginxDecision.StartIn(delay);
    }

    /// <summary>Sidecar mode: the pid file names a live nginx master.</summary>
    public void SidecarMasterFound(int pid)
    {
        _sidecarMasterAlive = true;
        _probeFailures = 0;
        if (!_policy.HasProbe) Set(NginxHealth.Healthy, $"master pid {pid} running");
        else Reason = $"master pid {pid} running, waiting for the health probe";
    }

    public NginxDecision ProbeSucceeded()
    {
        _probeFailures = 0;
        if (_mode == NginxSupervisionMode.Sidecar && _sidecarMasterAlive && Current != NginxHealth.Healthy)
            Set(NginxHealth.Healthy, "health probe passes");
        return NginxDecision.None;
    }

    public NginxDecision ProbeFailed(string reason)
    {
        if (!WantsProbe || Current != NginxHealth.Healthy) return NginxDecision.None;
        _probeFailures++;
        if (_probeFailures < _policy.ProbeFailureThreshold) return NginxDecision.None;

        _probeFailures = 0;
        Set(NginxHealth.Down, $"{_policy.ProbeFailureThreshold} consecutive failed health probes, last: {reason}");
        // A hung child is killed; its exit then drives the restart. A hung sidecar is not ours to kill.
        return _mode == NginxSupervisionMode.Child ? NginxDecision.Kill : NginxDecision.None;
    }

    /// <summary>nginx must start but no config passes validation: nothing can run until a new config arrives.</summary>
    public void NoUsableConfig(string reason) => Set(NginxHealth.Failed, $"no valid config to start with: {reason}");

    public void Stopped() => Set(NginxHealth.Stopped, "stopped");

    private void Set(NginxHealth health, string reason)
    {
        Current = health;
        Reason = reason;
    }
}
