using System.Runtime.InteropServices;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Platform;

/// <summary>
/// Real signals sent to the test process itself. SIGUSR1/SIGUSR2 end a process by default, so a signal is only
/// sent while a subscription holds it: a broken install would end the test run, not pass it.
/// </summary>
public sealed class ProcessSignalsTests
{
    const int SIGUSR1 = 10;
    const int SIGUSR2 = 12;
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_signal_runs_the_handler_and_the_last_dispose_puts_the_old_disposition_back()
    {
        using var arrived = new SemaphoreSlim(0);
        var sub = ProcessSignals.Subscribe((PosixSignal)SIGUSR2, () => arrived.Release());
        Assert.True(ProcessSignals.IsHandling((PosixSignal)SIGUSR2));

        SendToSelf(SIGUSR2);
        Assert.True(await arrived.WaitAsync(Patience));
        SendToSelf(SIGUSR2);
        Assert.True(await arrived.WaitAsync(Patience)); // every later signal too, not just the first

        sub.Dispose();
        Assert.False(ProcessSignals.IsHandling((PosixSignal)SIGUSR2));
        sub.Dispose(); // twice is harmless
    }

    [Fact]
    public async Task Every_subscriber_runs_and_the_handler_stays_until_the_last_one_leaves()
    {
        using var first = new SemaphoreSlim(0);
        using var second = new SemaphoreSlim(0);
        var a = ProcessSignals.Subscribe((PosixSignal)SIGUSR1, () => first.Release());
        var b = ProcessSignals.Subscribe((PosixSignal)SIGUSR1, () => second.Release());

        SendToSelf(SIGUSR1);
        Assert.True(await first.WaitAsync(Patience));
        Assert.True(await second.WaitAsync(Patience));

        a.Dispose();
        Assert.True(ProcessSignals.IsHandling((PosixSignal)SIGUSR1));
        SendToSelf(SIGUSR1);
        Assert.True(await second.WaitAsync(Patience));
        Assert.Equal(0, first.CurrentCount); // a left: it is not called again

        b.Dispose();
        Assert.False(ProcessSignals.IsHandling((PosixSignal)SIGUSR1));
    }

    [Fact]
    public async Task A_handler_that_throws_does_not_stop_later_signals()
    {
        using var arrived = new SemaphoreSlim(0);
        int calls = 0;
        using (ProcessSignals.Subscribe((PosixSignal)SIGUSR2, () =>
        {
            // Counted before the release: the test reads the count as soon as it is released.
            int call = Interlocked.Increment(ref calls);
            arrived.Release();
            if (call == 1) throw new InvalidOperationException("first call fails");
        }))
        {
            SendToSelf(SIGUSR2);
            Assert.True(await arrived.WaitAsync(Patience));
            SendToSelf(SIGUSR2);
            Assert.True(await arrived.WaitAsync(Patience));
            Assert.Equal(2, Volatile.Read(ref calls));
        }
    }

    [Fact]
    public async Task A_signal_sets_a_shutdown_latch_and_wakes_an_event_loop_polling_it()
    {
        var latch = ShutdownLatch.OnSignals((PosixSignal)SIGUSR2);
        using var loop = new EventLoopSignal(latch);
        Assert.False(latch.IsSet);
        Assert.False(loop.Wait(TimeSpan.FromMilliseconds(1)));
        Assert.False(loop.ShutdownRequested);

        var waiting = Task.Factory.StartNew(() => loop.Wait(null), TaskCreationOptions.LongRunning);
        SendToSelf(SIGUSR2);
        Assert.True(await waiting.WaitAsync(Patience));
        Assert.True(loop.ShutdownRequested);
        Assert.True(latch.IsSet);
        Assert.True(latch.IsSet); // set for good: reading it does not clear it

        latch.Dispose();
        Assert.False(ProcessSignals.IsHandling((PosixSignal)SIGUSR2)); // its handler went with it
    }

    [Fact]
    public void A_latch_set_by_hand_is_seen_by_the_next_wait()
    {
        using var latch = new ShutdownLatch();
        using var loop = new EventLoopSignal(latch);
        latch.Set();
        Assert.True(loop.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(loop.ShutdownRequested);
        Assert.True(latch.IsSet);
    }

    [Theory]
    [InlineData(PosixSignal.SIGHUP, 1)]
    [InlineData(PosixSignal.SIGINT, 2)]
    [InlineData(PosixSignal.SIGTERM, 15)]
    [InlineData((PosixSignal)SIGUSR2, 12)]
    public void Named_signals_map_to_linux_numbers_and_raw_numbers_pass_through(PosixSignal signal, int number) =>
        Assert.Equal(number, ProcessSignals.LinuxNumber(signal));

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public void A_number_that_is_no_linux_signal_is_refused(int raw) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ProcessSignals.LinuxNumber((PosixSignal)raw));

    static void SendToSelf(int signal) => Assert.Equal(0, Kill(Environment.ProcessId, signal));

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
