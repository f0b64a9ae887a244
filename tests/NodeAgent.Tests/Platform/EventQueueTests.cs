using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Platform;

public sealed class EventQueueTests
{
    [Fact]
    public void Items_come_out_in_order_and_the_end_comes_after_the_last_queued_one()
    {
        var queue = new EventQueue<int>();
        Assert.True(queue.Add(1));
        Assert.True(queue.Add(2));
        queue.CompleteAdding();
        Assert.False(queue.Add(3)); // dropped: nothing reads it any more
        Assert.Equal([1, 2], queue.GetConsumingEnumerable().ToArray());
    }

    [Fact]
    public void A_waiting_consumer_takes_an_item_added_from_another_thread_and_ends_when_completed()
    {
        var queue = new EventQueue<string>();
        var taken = new List<string>();
        var consumer = new Thread(() =>
        {
            foreach (var item in queue.GetConsumingEnumerable()) lock (taken) taken.Add(item);
        });
        consumer.Start();
        queue.Add("a");
        queue.Add("b");
        queue.CompleteAdding();
        Assert.True(consumer.Join(TimeSpan.FromSeconds(30)), "the consumer did not end after CompleteAdding");
        Assert.Equal(["a", "b"], taken);
    }

    [Fact]
    public void A_consumer_on_an_empty_queue_waits_for_the_first_item()
    {
        var queue = new EventQueue<int>();
        using var first = new ManualResetEventSlim();
        var consumer = new Thread(() =>
        {
            foreach (var _ in queue.GetConsumingEnumerable()) { first.Set(); break; }
        });
        consumer.Start();
        Assert.False(first.Wait(TimeSpan.FromMilliseconds(50))); // nothing queued: still waiting
        queue.Add(7);
        Assert.True(first.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(consumer.Join(TimeSpan.FromSeconds(30)));
    }
}
