using Microsoft.Extensions.Time.Testing;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Tests.Machinery;

public class EventAggregatorTests
{
    private static readonly EventSubject Group = new("nginx-ha.io/v1alpha1", "VirtualIpGroup", "edge", "web", "uid-1");

    [Fact]
    public void Repeats_within_the_window_count_in_one_Event_and_a_later_one_starts_a_new_Event()
    {
        var time = new FakeTimeProvider();
        var aggregator = new EventAggregator(time, TimeSpan.FromMinutes(6));
        var key = new EventKey(Group, EventTypes.Warning, "VridConflict", "Plan", "VRID 51 is also claimed by edge/other");

        var first = Assert.IsType<EventAggregator.Create>(aggregator.Observe(key));
        time.Advance(TimeSpan.FromMinutes(5));
        var second = Assert.IsType<EventAggregator.Series>(aggregator.Observe(key));
        time.Advance(TimeSpan.FromMinutes(5));
        var third = Assert.IsType<EventAggregator.Series>(aggregator.Observe(key)); // the window runs from the last occurrence
        Assert.Equal(first.Name, second.Name);
        Assert.Equal(first.Name, third.Name);
        Assert.Equal(2, second.Count);
        Assert.Equal(3, third.Count);
        Assert.Equal(time.GetUtcNow(), third.Time);

        time.Advance(TimeSpan.FromMinutes(6));
        var fresh = Assert.IsType<EventAggregator.Create>(aggregator.Observe(key));
        Assert.NotEqual(first.Name, fresh.Name);
    }

    [Fact]
    public void A_different_note_reason_or_object_is_a_different_Event()
    {
        var aggregator = new EventAggregator(new FakeTimeProvider());
        var key = new EventKey(Group, EventTypes.Warning, "SecretMissing", "Plan", "Secret edge/vrrp not found");
        Assert.IsType<EventAggregator.Create>(aggregator.Observe(key));
        Assert.IsType<EventAggregator.Create>(aggregator.Observe(key with { Note = "Secret edge/other not found" }));
        Assert.IsType<EventAggregator.Create>(aggregator.Observe(key with { Reason = "PoolMissing" }));
        Assert.IsType<EventAggregator.Create>(aggregator.Observe(key with { Regarding = Group with { Name = "api" } }));
        Assert.IsType<EventAggregator.Series>(aggregator.Observe(key));
    }

    [Fact]
    public void Forget_after_a_failed_write_makes_the_next_occurrence_create_the_Event_again()
    {
        var aggregator = new EventAggregator(new FakeTimeProvider());
        var key = new EventKey(Group, EventTypes.Normal, "Released", "Finalize", "VIPs released");
        Assert.IsType<EventAggregator.Create>(aggregator.Observe(key));
        aggregator.Forget(key);
        Assert.IsType<EventAggregator.Create>(aggregator.Observe(key));
    }
}
