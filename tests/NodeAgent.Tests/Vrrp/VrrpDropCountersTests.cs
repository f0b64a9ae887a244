using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

public class VrrpDropCountersTests
{
    [Fact]
    public void CountsPerReason()
    {
        var counters = new VrrpDropCounters();
        counters.Increment(VrrpDropReason.BadChecksum);
        counters.Increment(VrrpDropReason.BadChecksum);
        counters.Increment(VrrpDropReason.AdvertIntervalMismatch);

        Assert.Equal(2, counters[VrrpDropReason.BadChecksum]);
        Assert.Equal(1, counters[VrrpDropReason.AdvertIntervalMismatch]);
        Assert.Equal(0, counters[VrrpDropReason.Truncated]);
        Assert.Equal(3, counters.Total);
    }

    [Fact]
    public void SnapshotListsEveryDropReasonButOk()
    {
        var counters = new VrrpDropCounters();
        counters.Increment(VrrpDropReason.BadTtl);

        IReadOnlyDictionary<VrrpDropReason, long> snapshot = counters.Snapshot();

        Assert.Equal(Enum.GetValues<VrrpDropReason>().Where(r => r != VrrpDropReason.Ok).Order(), snapshot.Keys.Order());
        Assert.Equal(1, snapshot[VrrpDropReason.BadTtl]);
        Assert.Equal(1, snapshot.Values.Sum());
        counters.Increment(VrrpDropReason.BadTtl);
        Assert.Equal(1, snapshot[VrrpDropReason.BadTtl]);
    }

    [Fact]
    public void OkAndUndefinedValuesAreNotDropReasons()
    {
        var counters = new VrrpDropCounters();
        Assert.Throws<ArgumentOutOfRangeException>(() => counters.Increment(VrrpDropReason.Ok));
        Assert.Throws<ArgumentOutOfRangeException>(() => counters[(VrrpDropReason)999]);
        Assert.Throws<ArgumentOutOfRangeException>(() => counters.Increment((VrrpDropReason)(-1)));
    }

    [Fact]
    public void ConcurrentIncrementsAreNotLost()
    {
        var counters = new VrrpDropCounters();
        const int PerThread = 100_000;
        VrrpDropReason[] reasons = [VrrpDropReason.BadChecksum, VrrpDropReason.BadTtl];

        Parallel.For(0, 4, worker =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                counters.Increment(reasons[(worker + i) % reasons.Length]);
            }
        });

        Assert.Equal(4 * PerThread, counters.Total);
        Assert.Equal(2 * PerThread, counters[VrrpDropReason.BadChecksum]);
        Assert.Equal(2 * PerThread, counters[VrrpDropReason.BadTtl]);
    }
}
