using System.Diagnostics;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Platform;

public sealed class EventLoopSignalTests
{
    [Fact]
    public void A_signal_given_before_the_wait_is_kept_and_consumed_once()
    {
        using var signal = new EventLoopSignal();
        signal.Signal();
        signal.Signal();
        Assert.True(signal.Wait(TimeSpan.FromSeconds(30)));
        Assert.False(signal.Wait(TimeSpan.Zero)); // both signals were consumed by the one wake-up
    }

    [Fact]
    public void A_signal_wins_over_a_timeout_and_a_later_wait_gets_a_fresh_deadline()
    {
        using var signal = new EventLoopSignal();
        signal.Signal();
        Assert.True(signal.Wait(TimeSpan.FromMilliseconds(1)));
        Thread.Sleep(5); // the first deadline passes unread
        long start = Stopwatch.GetTimestamp();
        Assert.False(signal.Wait(TimeSpan.FromMilliseconds(20)));
        Assert.True(Stopwatch.GetElapsedTime(start) >= TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void A_wait_with_no_signal_ends_at_its_timeout()
    {
        using var signal = new EventLoopSignal();
        long start = Stopwatch.GetTimestamp();
        Assert.False(signal.Wait(TimeSpan.FromMilliseconds(20)));
        // Never early: the master-down timer must not fire before Master_Down_Interval.
        Assert.True(Stopwatch.GetElapsedTime(start) >= TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public async Task A_signal_from_another_thread_wakes_a_wait_without_timeout()
    {
        using var signal = new EventLoopSignal();
        var waiter = Task.Factory.StartNew(() => signal.Wait(null), TaskCreationOptions.LongRunning);
        await Task.Delay(20);
        Assert.False(waiter.IsCompleted);
        signal.Signal();
        Assert.True(await waiter.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void A_signal_after_dispose_is_ignored()
    {
        var signal = new EventLoopSignal();
        signal.Dispose();
        signal.Signal();
        signal.Dispose();
    }
}
