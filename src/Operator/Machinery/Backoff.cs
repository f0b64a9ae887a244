namespace NginxHa.Operator.Machinery;

/// <summary>
/// Exponential backoff: <c>Initial * 2^(attempt-1)</c>, capped at <c>Max</c>. With jitter, the delay is
/// stretched by a random factor in [1, 1 + Jitter) so that many clients failing together do not retry together.
/// </summary>
public sealed record Backoff(TimeSpan Initial, TimeSpan Max, double Jitter = 0)
{
    public TimeSpan Delay(int attempt, Random? random = null)
    {
        if (attempt < 1) return TimeSpan.Zero;
        var exponent = Math.Min(attempt - 1, 30);
        var ticks = Math.Min(Initial.Ticks * Math.Pow(2, exponent), Max.Ticks);
        if (Jitter > 0) ticks = Math.Min(ticks * (1 + Jitter * (random ?? Random.Shared).NextDouble()), Max.Ticks * (1 + Jitter));
        return TimeSpan.FromTicks((long)ticks);
    }
}
