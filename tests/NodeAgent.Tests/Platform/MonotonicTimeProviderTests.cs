using System.Diagnostics;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Platform;

public sealed class MonotonicTimeProviderTests
{
    [Fact]
    public async Task Starts_at_the_wall_clock_and_moves_forward_with_elapsed_time()
    {
        var clock = new MonotonicTimeProvider();
        long before = Stopwatch.GetTimestamp();
        var first = clock.GetUtcNow();
        Assert.InRange(first - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(-5), TimeSpan.FromSeconds(5));
        await Task.Delay(30);
        var second = clock.GetUtcNow();
        var around = Stopwatch.GetElapsedTime(before);
        // It counts the monotonic time Stopwatch counts: no more than the span around both reads, and about the
        // delay (Task.Delay runs on a millisecond timer and was seen ending 29.x ms after it began).
        Assert.InRange(second - first, TimeSpan.FromMilliseconds(25), around);
        Assert.Equal(TimeSpan.Zero, second.Offset);
    }
}
