using Microsoft.Extensions.Time.Testing;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Tests.Machinery;

public class WorkQueueTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);
    private readonly FakeTimeProvider _time = new();

    private static async Task<string> Take(WorkQueue<string> queue)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await queue.TakeAsync(cts.Token);
    }

    [Fact]
    public async Task A_key_added_several_times_before_it_is_taken_is_handed_out_once()
    {
        using var queue = new WorkQueue<string>(_time);
        queue.Add("a");
        queue.Add("b");
        queue.Add("a");
        queue.Add("a");
        Assert.Equal(2, queue.Count);
        Assert.Equal("a", await Take(queue));
        Assert.Equal("b", await Take(queue));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task An_urgent_only_taker_gets_urgent_keys_and_waits_while_only_other_keys_wait()
    {
        using var queue = new WorkQueue<string>(_time, urgent: k => k == "plan");
        queue.Add("a");
        using var cts = new CancellationTokenSource();
        var urgentTake = queue.TakeAsync(cts.Token, urgentOnly: true);
        Assert.False(urgentTake.IsCompleted); // "a" is not for it
        queue.Add("plan");
        Assert.Equal("plan", await urgentTake.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(queue.IsPending("plan")); // in process
        Assert.Equal("a", await Take(queue)); // still there for the others

        // An urgent key the others took leaves the urgent taker a wake-up with nothing to take: it waits on.
        queue.Done("plan");
        Assert.False(queue.IsPending("plan"));
        queue.Add("plan");
        Assert.Equal("plan", await Take(queue));
        var next = queue.TakeAsync(cts.Token, urgentOnly: true); // its wake-up finds nothing, synchronously, and it waits again
        Assert.False(next.IsCompleted);
        queue.Done("plan");
        queue.Add("plan");
        Assert.Equal("plan", await next.WaitAsync(TimeSpan.FromSeconds(5)));
        await cts.CancelAsync();
    }

    [Fact]
    public async Task An_urgent_key_is_handed_out_before_keys_that_were_waiting_longer()
    {
        using var queue = new WorkQueue<string>(_time, urgent: k => k == "plan");
        queue.Add("a");
        queue.Add("b");
        queue.Add("plan");
        queue.Add("c");
        Assert.Equal(["plan", "a", "b", "c"], queue.Waiting());
        queue.Done(await Take(queue)); // plan
        Assert.Equal("a", await Take(queue));
        queue.Add("plan");
        Assert.Equal("plan", await Take(queue));
        Assert.Equal("b", await Take(queue));
    }

    [Fact]
    public async Task An_urgent_key_requeued_by_Done_goes_before_the_others()
    {
        using var queue = new WorkQueue<string>(_time, urgent: k => k == "plan");
        queue.Add("plan");
        var key = await Take(queue);
        queue.Add("a");
        queue.Add("plan"); // while in process
        queue.Done(key);
        Assert.Equal("plan", await Take(queue));
        Assert.Equal("a", await Take(queue));
    }

    [Fact]
    public async Task A_key_added_while_in_process_waits_for_Done_and_is_then_handed_out_once()
    {
        using var queue = new WorkQueue<string>(_time);
        queue.Add("a");
        var key = await Take(queue);
        queue.Add("a");
        queue.Add("a");
        Assert.Equal(0, queue.Count); // no second worker may get "a" now
        queue.Done(key);
        Assert.Equal(1, queue.Count);
        queue.Done(await Take(queue));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Failed_keys_come_back_after_an_exponential_backoff_per_key_reset_by_Forget()
    {
        using var queue = new WorkQueue<string>(_time, new Backoff(5 * Ms, 40 * Ms));
        var expected = new[] { 5, 10, 20, 40, 40 };
        foreach (var ms in expected)
        {
            Assert.Equal(ms * Ms, queue.AddRateLimited("a"));
            _time.Advance((ms - 1) * Ms);
            Assert.Equal(0, queue.Count);
            _time.Advance(Ms);
            Assert.Equal(1, queue.Count);
            var key = await Take(queue);
            queue.Done(key);
        }
        Assert.Equal(5, queue.Failures("a"));
        Assert.Equal(5 * Ms, queue.AddRateLimited("b")); // other keys have their own count
        queue.Forget("a");
        Assert.Equal(5 * Ms, queue.AddRateLimited("a"));
    }

    [Fact]
    public void AddAfter_keeps_the_earlier_of_two_delays_and_Add_cancels_the_wait()
    {
        using var queue = new WorkQueue<string>(_time);
        queue.AddAfter("a", 100 * Ms);
        queue.AddAfter("a", 30 * Ms);
        queue.AddAfter("a", 60 * Ms);
        _time.Advance(29 * Ms);
        Assert.Equal(0, queue.Count);
        _time.Advance(Ms);
        Assert.Equal(1, queue.Count);
        _time.Advance(100 * Ms);
        Assert.Equal(1, queue.Count); // the later timers do not add it again

        queue.AddAfter("b", 50 * Ms);
        queue.Add("b");
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public async Task Workers_never_reconcile_one_key_twice_at_once_and_retry_a_failure_after_its_backoff()
    {
        using var queue = new WorkQueue<string>(_time, new Backoff(10 * Ms, TimeSpan.FromSeconds(1)));
        var log = new OperatorLog(TextWriter.Null, _time);
        var running = 0;
        var maxRunning = 0;
        var calls = 0;
        var failNext = false;
        var gate = new SemaphoreSlim(0);
        var entered = new SemaphoreSlim(0);
        using var cts = new CancellationTokenSource();
        var workers = WorkQueueWorkers.RunAsync(queue, 4, async (key, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            lock (queue) maxRunning = Math.Max(maxRunning, now);
            Interlocked.Increment(ref calls);
            entered.Release();
            await gate.WaitAsync(ct);
            Interlocked.Decrement(ref running);
            if (failNext)
            {
                failNext = false;
                throw new InvalidOperationException("this attempt fails");
            }
            return ReconcileResult.Done;
        }, log, cts.Token);

        queue.Add("a");
        Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(5)));
        for (var i = 0; i < 10; i++) queue.Add("a"); // while "a" is in process, with three idle workers
        gate.Release(); // call 1 succeeds; the ten adds made while it ran become exactly one more call
        Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(5)));
        gate.Release();
        await WaitFor(() => queue.Count == 0 && Volatile.Read(ref running) == 0);
        Assert.Equal(2, Volatile.Read(ref calls));

        failNext = true;
        queue.Add("a");
        Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(5)));
        gate.Release(); // call 3 fails: retried 10 ms later on the fake clock, not before
        await WaitFor(() => queue.Failures("a") == 1 && Volatile.Read(ref running) == 0);
        Assert.Equal(0, queue.Count);
        _time.Advance(9 * Ms);
        Assert.Equal(0, queue.Count);
        _time.Advance(Ms);
        Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(5)));
        gate.Release();
        await WaitFor(() => queue.Failures("a") == 0 && Volatile.Read(ref running) == 0); // success forgets the failures
        Assert.Equal(4, Volatile.Read(ref calls));
        Assert.Equal(1, maxRunning);

        cts.Cancel();
        await workers;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 5 s");
            await Task.Delay(5);
        }
    }
}
