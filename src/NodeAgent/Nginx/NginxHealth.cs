namespace NginxHa.NodeAgent.Nginx;

/// <summary>What the supervisor knows about the local nginx.</summary>
public enum NginxHealth
{
    /// <summary>Supervision not started, or stopped on purpose.</summary>
    Stopped,

    /// <summary>First start (or, in sidecar mode, first sighting of a master) not yet confirmed.</summary>
    Starting,

    /// <summary>A master is running and the health probe (if configured) passes.</summary>
    Healthy,

    /// <summary>A healthy nginx just went away and one immediate restart is in flight (bounded by the start timeout).</summary>
    Restarting,

    /// <summary>Not running or not answering, and no immediate restart is in flight; retries follow the backoff ladder
    /// (child mode) or we wait for a new master in the pid file (sidecar mode).</summary>
    Down,

    /// <summary>Cannot be brought up: too many consecutive failed starts, or no valid config to start with.</summary>
    Failed,
}

public static class NginxHealthExtensions
{
    /// <summary>
    /// True when this node must not hold VIPs (every VRRP instance goes to priority 0) at once. Restarting is the one
    /// not-serving state that does not fault by itself: the node reconciler lets it keep the VIPs only for as long as a
    /// hand-over would take (Skew_Time), then faults (see NodeReconciler's hand-over budget).
    /// </summary>
    public static bool RequiresVrrpFault(this NginxHealth health) => health is not (NginxHealth.Healthy or NginxHealth.Restarting);
}
