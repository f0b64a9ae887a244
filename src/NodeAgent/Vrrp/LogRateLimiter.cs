namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// At most one log line per key per period; the lines held back are counted and reported with the next one. Pure:
/// the caller passes the time. Not thread-safe (a speaker's event loop owns it).
/// </summary>
public sealed class LogRateLimiter(TimeSpan period)
{
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromSeconds(10);

    readonly Dictionary<string, (MonotonicTime Last, long Suppressed)> _keys = new();

    /// <summary>True when a line for <paramref name="key"/> may be written now; <paramref name="suppressed"/> is how many were held back since the last one.</summary>
    public bool TryLog(string key, MonotonicTime now, out long suppressed)
    {
        if (_keys.TryGetValue(key, out var entry) && now - entry.Last < period)
        {
            _keys[key] = entry with { Suppressed = entry.Suppressed + 1 };
            suppressed = 0;
            return false;
        }
        suppressed = entry.Suppressed;
        _keys[key] = (now, 0);
        return true;
    }
}
