using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Hardening;

public sealed class LogRateLimiterTests
{
    static readonly MonotonicTime T0 = new(TimeSpan.FromDays(3).Ticks);

    [Fact]
    public void One_line_per_key_per_period_and_the_next_line_counts_what_was_held_back()
    {
        var limiter = new LogRateLimiter(TimeSpan.FromSeconds(10));
        Assert.True(limiter.TryLog("a", T0, out var held));
        Assert.Equal(0, held);
        for (var i = 1; i <= 999; i++)
            Assert.False(limiter.TryLog("a", T0 + TimeSpan.FromMilliseconds(i * 10) - TimeSpan.FromTicks(1), out _));
        Assert.True(limiter.TryLog("b", T0 + TimeSpan.FromSeconds(1), out _)); // another key has its own budget
        Assert.True(limiter.TryLog("a", T0 + TimeSpan.FromSeconds(10), out held));
        Assert.Equal(999, held);
    }
}
