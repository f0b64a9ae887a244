using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Platform;

public sealed class MonotonicTimeProviderTests
{
    [Fact]
    public async Task Starts_at_the_wall_clock_and_moves_forward_with_elapsed_time()
    {
        var clock = new MonotonicTimeProvider();
        var first = clock.GetUtcNow();
        Assert.InRange(first - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(-5), TimeSpan.FromSeconds(5));
        await Task.Delay(30);
        var second = clock.GetUtcNow();
        Assert.InRange(second - first, TimeSpan.FromMilliseconds(30), TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.Zero, second.Offset);
    }
}
