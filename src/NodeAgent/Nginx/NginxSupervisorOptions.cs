namespace NginxHa.NodeAgent.Nginx;

/// <summary>Periodic HTTP probe that catches a hung nginx (a live process that no longer answers).</summary>
/// <param name="Url">Served by the rendered config, e.g. http://127.0.0.1:PORT/healthz; any 2xx passes.</param>
public sealed record NginxHealthProbeOptions(Uri Url, TimeSpan Interval, TimeSpan Timeout, int FailureThreshold)
{
    public void Validate()
    {
        if (!Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"Probe.Url must be an absolute http(s) URL, got '{Url}'.");
        if (Interval <= TimeSpan.Zero) throw new ArgumentException($"Probe.Interval must be positive, got {Interval}.");
        if (Timeout <= TimeSpan.Zero) throw new ArgumentException($"Probe.Timeout must be positive, got {Timeout}.");
        if (FailureThreshold < 1) throw new ArgumentException($"Probe.FailureThreshold must be at least 1, got {FailureThreshold}.");
    }
}

public sealed class NginxSupervisorOptions
{
    public required NginxSupervisionMode Mode { get; init; }

    public required NginxPaths Paths { get; init; }

    /// <summary>Optional; without it a running master counts as healthy.</summary>
    public NginxHealthProbeOptions? Probe { get; init; }

    /// <summary>A start must show our pid in the pid file (and pass the probe) within this time, else it failed.
    /// Also the longest a <see cref="NginxHealth.Restarting"/> can last.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public int MaxStartAttempts { get; init; } = 5;

    public RestartBackoffOptions Backoff { get; init; } = RestartBackoffOptions.Default;

    /// <summary>Graceful stop (SIGQUIT) gets this long before the process group is killed.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan ValidateTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long after SIGHUP new workers must appear for a reload to count as done.</summary>
    public TimeSpan ReloadTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Sidecar mode: how often to look for a (new) master in the pid file while none is known.</summary>
    public TimeSpan PidFilePollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Child mode runs nginx through setsid so its workers share a process group we can kill when the
    /// master dies: orphaned workers keep the listening sockets and would make every restart fail.</summary>
    public string SetsidBinary { get; init; } = "/usr/bin/setsid";

    /// <summary>Conventional layout under one prefix: conf/nginx.conf, logs/nginx.pid, logs/error.log.</summary>
    public static NginxPaths PathsUnder(string prefix, string nginxBinary = "/usr/sbin/nginx") => new(
        nginxBinary,
        prefix,
        Path.Combine(prefix, "conf", "nginx.conf"),
        Path.Combine(prefix, "logs", "nginx.pid"),
        Path.Combine(prefix, "logs", "error.log"));

    internal NginxHealthPolicy HealthPolicy => new(MaxStartAttempts, Probe?.FailureThreshold ?? 1, Probe is not null, Backoff);

    public void Validate()
    {
        Paths.Validate();
        Probe?.Validate();
        HealthPolicy.Validate();
        if (StartTimeout <= TimeSpan.Zero) throw new ArgumentException($"StartTimeout must be positive, got {StartTimeout}.");
        if (StopTimeout < TimeSpan.Zero) throw new ArgumentException($"StopTimeout must not be negative, got {StopTimeout}.");
        if (ValidateTimeout <= TimeSpan.Zero) throw new ArgumentException($"ValidateTimeout must be positive, got {ValidateTimeout}.");
        if (ReloadTimeout <= TimeSpan.Zero) throw new ArgumentException($"ReloadTimeout must be positive, got {ReloadTimeout}.");
        if (PidFilePollInterval <= TimeSpan.Zero) throw new ArgumentException($"PidFilePollInterval must be positive, got {PidFilePollInterval}.");
        if (Mode == NginxSupervisionMode.Child && !Path.IsPathFullyQualified(SetsidBinary))
            throw new ArgumentException($"SetsidBinary must be an absolute path, got '{SetsidBinary}'.");
    }
}

public enum ConfigApplyOutcome
{
    /// <summary>Same text as the running config: nothing written, no reload.</summary>
    Unchanged,

    /// <summary>Validated, moved into place, SIGHUP sent to the master, and new workers came up.</summary>
    Reloaded,

    /// <summary>
    /// Passed nginx -t but the master could not load it (e.g. a port in use: [emerg] in the error log, no new workers).
    /// The previous config file is put back; the old workers keep serving it.
    /// </summary>
    ReloadFailed,

    /// <summary>Validated, moved into place, nginx was not running and was started.</summary>
    Started,

    /// <summary>Validated and moved into place, but the start failed; the supervisor keeps retrying.</summary>
    StartFailed,

    /// <summary>Sidecar mode with no live master: validated and moved into place; takes effect when nginx starts.</summary>
    WrittenNotRunning,

    /// <summary>nginx -t rejected it; the previous config keeps running.</summary>
    Rejected,
}

/// <param name="Error">nginx's own first error line for Rejected / StartFailed, else null.</param>
public sealed record ConfigApplyResult(ConfigApplyOutcome Outcome, string? Error = null)
{
    public bool Accepted => Outcome is not (ConfigApplyOutcome.Rejected or ConfigApplyOutcome.ReloadFailed);
}
