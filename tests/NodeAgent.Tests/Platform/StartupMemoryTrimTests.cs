using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Platform;

public sealed class StartupMemoryTrimTests
{
    [Fact]
    public void The_trim_runs_once_when_the_settle_time_is_over_and_not_before()
    {
        var time = new FakeTimeProvider();
        int trims = 0;
        using var trim = new StartupMemoryTrim(time, TimeSpan.FromSeconds(10), () => trims++);
        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(0, trims);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(1, trims);
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, trims);
    }

    [Fact]
    public void A_run_that_ends_before_the_settle_time_never_trims()
    {
        var time = new FakeTimeProvider();
        int trims = 0;
        var trim = new StartupMemoryTrim(time, TimeSpan.FromSeconds(10), () => trims++);
        time.Advance(TimeSpan.FromSeconds(5));
        trim.Dispose();
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, trims);
    }

    [Fact]
    public void The_trim_is_a_full_blocking_compacting_collection()
    {
        int fullBefore = GC.CollectionCount(GC.MaxGeneration);
        StartupMemoryTrim.CollectAggressively();
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > fullBefore);
        var last = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        Assert.True(last.Compacted, "the trim must compact: free regions are only given back after a compaction");
        Assert.Equal(GC.MaxGeneration, last.Generation);
    }
}
