namespace NginxHa.NodeAgent.Nginx;

/// <summary>Delays of the restart ladder.</summary>
/// <param name="Initial">Delay of the first delayed attempt; each further attempt doubles it.</param>
/// <param name="Max">Ceiling of the doubling.</param>
/// <param name="StableRun">A run that stayed up this long resets the ladder.</param>
public sealed record RestartBackoffOptions(TimeSpan Initial, TimeSpan Max, TimeSpan StableRun)
{
    public static RestartBackoffOptions Default { get; } = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));

    public void Validate()
    {
        if (Initial <= TimeSpan.Zero) throw new ArgumentException($"Backoff.Initial must be positive, got {Initial}.");
        if (Max < Initial) throw new ArgumentException($"Backoff.Max ({Max}) must be at least Backoff.Initial ({Initial}).");
        if (StableRun <= TimeSpan.Zero) throw new ArgumentException($"Backoff.StableRun must be positive, got {StableRun}.");
    }
}

/// <summary>
/// Exponential restart backoff: the first restart after a stable run is immediate, then Initial, 2*Initial, ... up to Max.
/// A run that stays up for StableRun resets the ladder, so a crash loop slows down but a rare crash is repaired at once.
/// </summary>
public sealed class RestartBackoff
{
    private readonly RestartBackoffOptions _options;
    private readonly TimeProvider _time;
    private int _attempt;
    private DateTimeOffset? _upSince;

    public RestartBackoff(RestartBackoffOptions options, TimeProvider time)
    {
        options.Validate();
        _options = options;
        _time = time;
    }

    /// <summary>Attempts taken since the ladder was last reset.</summary>
    public int Attempt => _attempt;

    /// <summary>nginx was confirmed up now; if it stays up for StableRun, the ladder resets.</summary>
    public void MarkUp() => _upSince = _time.GetUtcNow();

    /// <summary>Delay before the next start attempt; consumes one step of the ladder.</summary>
    public TimeSpan NextDelay()
    {
        if (_upSince is { } since && _time.GetUtcNow() - since >= _options.StableRun)
            _attempt = 0;
        _upSince = null;

        var attempt = _attempt++;
        if (attempt == 0) return TimeSpan.Zero;
        // Cap the exponent: 2^30 * any positive Initial already exceeds any sane Max.
        var factor = Math.Pow(2, Math.Min(attempt - 1, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(_options.Initial.Ticks * factor, _options.Max.Ticks));
        return delay;
    }
}
