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
    public void The_trim_gives_the_freed_heap_back_where_a_plain_collection_keeps_it()
    {
        Churn();
        GC.Collect(); // the garbage is freed, but its regions stay committed for reuse
        long kept = GC.GetGCMemoryInfo(GCKind.FullBlocking).TotalCommittedBytes;
        StartupMemoryTrim.CollectAggressively();
        long after = GC.GetGCMemoryInfo(GCKind.FullBlocking).TotalCommittedBytes;
        Assert.True(after < kept - (16 << 20), $"committed after a plain collection {kept >> 20} MB, after the trim {after >> 20} MB");
    }

    // 64 MB of large objects, dead on return.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static void Churn()
    {
        var garbage = new byte[64][];
        for (int i = 0; i < garbage.Length; i++) garbage[i] = new byte[1 << 20];
        GC.KeepAlive(garbage);
    }
}
