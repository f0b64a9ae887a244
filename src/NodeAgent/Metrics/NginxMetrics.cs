using System.Text;
using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>Where a config was rejected (the config_rejected label).</summary>
public enum ConfigRejectionStage
{
    /// <summary>The manifests (or the NodeHaConfig) did not validate.</summary>
    Manifest,
    /// <summary>The rendered nginx.conf failed `nginx -t`.</summary>
    NginxTest,
    /// <summary>A VRRP instance could not be set up on this host (interface, password file).</summary>
    Vrrp,
}

/// <summary>nginx as the agent sees it: health, restarts, reloads, the config applied and configs rejected.</summary>
public sealed class NginxMetrics
{
    readonly long[] _reloads = new long[4];
    readonly long[] _rejected = new long[3];
    Func<NginxHealth>? _health;
    Func<long>? _starts;
    volatile string? _configHash;

    /// <summary>The supervisor whose health and restarts are reported.</summary>
    public void Attach(NginxSupervisor supervisor) => Attach(() => supervisor.Current, () => supervisor.MasterStarts);

    /// <summary>Reads health and the count of nginx masters started (the first one plus restarts) at scrape time.</summary>
    public void Attach(Func<NginxHealth> health, Func<long> masterStarts)
    {
        _health = health;
        _starts = masterStarts;
    }

    public bool Supervised => _health is not null;
    public NginxHealth Health => _health?.Invoke() ?? NginxHealth.Stopped;

    /// <summary>1 while nginx serves (healthy, or one quick restart in flight counts as down: it does not serve).</summary>
    public bool Up => Health == NginxHealth.Healthy;

    public long Restarts => Math.Max(0, (_starts?.Invoke() ?? 0) - 1);

    /// <summary>Short SHA-256 of the nginx.conf last accepted (the config_info label), or null before the first.</summary>
    public string? ConfigHash => _configHash;

    public long Reloads(string result) => Interlocked.Read(ref _reloads[ResultIndex(result)]);
    public long Rejected(ConfigRejectionStage stage) => Interlocked.Read(ref _rejected[(int)stage]);

    public static readonly IReadOnlyList<string> ReloadResults = ["reloaded", "unchanged", "rejected", "failed"];

    /// <summary>Records one apply of a rendered config and its outcome.</summary>
    public void Applied(string renderedConfig, ConfigApplyResult result)
    {
        string label = result.Outcome switch
        {
            ConfigApplyOutcome.Rejected => "rejected",
            ConfigApplyOutcome.ReloadFailed or ConfigApplyOutcome.StartFailed => "failed",
            ConfigApplyOutcome.Unchanged => "unchanged",
            _ => "reloaded",
        };
        Interlocked.Increment(ref _reloads[ResultIndex(label)]);
        if (result.Accepted) _configHash = NginxConfigHash.Of(renderedConfig);
        else Interlocked.Increment(ref _rejected[(int)ConfigRejectionStage.NginxTest]);
    }

    public void Reject(ConfigRejectionStage stage) => Interlocked.Increment(ref _rejected[(int)stage]);

    static int ResultIndex(string result) => result switch
    {
        "reloaded" => 0,
        "unchanged" => 1,
        "rejected" => 2,
        "failed" => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(result), result, "not a reload result"),
    };
}
