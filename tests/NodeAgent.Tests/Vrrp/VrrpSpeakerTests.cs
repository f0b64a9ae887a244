using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Vrrp;
using VirtualIp = NginxHa.Core.Resources.VirtualIp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>The speaker's event loop over in-memory edges and a fake clock.</summary>
public sealed class VrrpSpeakerTests : IAsyncDisposable
{
    static readonly IPAddress Self = IPAddress.Parse("198.18.0.2");
    static readonly IPAddress Peer = IPAddress.Parse("198.18.0.1");
    static readonly IPAddress Group = IPAddress.Parse("224.0.0.18");
    static readonly VirtualIp Vip = new(IPAddress.Parse("198.18.0.100"), 24);

    readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    readonly FakeTransport _transport = new();
    readonly FakeAddressTable _addresses = new();
    readonly FakeAnnouncer _announcer = new();
    readonly ConcurrentQueue<string> _log = new();
    readonly CancellationTokenSource _stop = new();
    readonly FakeLink _link = new();
    readonly AcceptCounter _observer = new();
    VrrpSpeaker? _speaker;
    Task? _run;

    VrrpSpeaker Start(VrrpVersion version = VrrpVersion.V3, byte priority = 100, string? password = null,
        int garpRepeat = 1, TimeSpan garpInterval = default, ShutdownLatch? shutdown = null, TimeProvider? time = null)
    {
        var interval = version == VrrpVersion.V3 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1);
        var instance = new VrrpInstanceConfig(version, 51, priority, interval, Self);
        var auth = password is null ? ReadOnlyMemory<byte>.Empty : VrrpSimplePassword.ToAuthData(password);
        var options = new VrrpSpeakerOptions("vrid 51", instance, [Vip], auth, garpRepeat, garpInterval);
        _speaker = new VrrpSpeaker(options, _transport, _addresses, _announcer, time ?? _time, _log.Enqueue, _link, _observer);
        _run = _speaker.RunAsync(_stop.Token, shutdown);
        return _speaker;
    }

    /// <summary>Moves the fake clock in small steps until the condition holds; returns the fake time it took.</summary>
    async Task<TimeSpan> AdvanceUntil(Func<bool> condition, TimeSpan step, TimeSpan limit)
    {
        var start = _time.GetUtcNow();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(_time.GetUtcNow() - start <= limit, $"condition not met within {limit} of fake time");
            Assert.True(DateTime.UtcNow < deadline, "the speaker did not react (real-time guard)");
            _time.Advance(step);
            await Task.Delay(2);
        }
        return _time.GetUtcNow() - start;
    }

    /// <summary>
    /// The speaker's timer must fire between <paramref name="before"/> and <paramref name="after"/> (fake time since
    /// start-up): at <paramref name="before"/> it must not have acted, by <paramref name="after"/> it must have.
    /// </summary>
    async Task AssertTakesOverBetween(VrrpSpeaker speaker, TimeSpan before, TimeSpan after)
    {
        _time.Advance(before);
        await speaker.IdleAsync(); // everything due by now was handled
        Assert.Equal(VrrpState.Backup, speaker.State);
        _time.Advance(after - before);
        await WaitFor(() => speaker.State == VrrpState.Master);
    }

    static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the speaker did not react (real-time guard)");
            await Task.Delay(2);
        }
    }

    byte[] Advert(VrrpVersion version, byte priority, string? password = null, IPAddress? vip = null)
    {
        var interval = version == VrrpVersion.V3 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1);
        var advert = new VrrpAdvertisement(version, 51, priority, interval, [vip ?? Vip.Address],
            password is null ? VrrpAuthType.None : VrrpAuthType.SimpleText,
            password is null ? ReadOnlyMemory<byte>.Empty : VrrpSimplePassword.ToAuthData(password));
        var buffer = new byte[VrrpPacket.GetEncodedLength(advert)];
        VrrpPacket.Write(buffer, advert, Peer, Group);
        return buffer;
    }

    void Receive(byte[] message, int ttl = 255, TimeSpan queuedFor = default) =>
        _transport.Inbound.Writer.TryWrite(new VrrpDatagram(Peer, Group, ttl, message, queuedFor));

    [Fact]
    public async Task Backup_takes_over_after_master_down_interval_and_announces()
    {
        var speaker = Start(priority: 100, garpRepeat: 3, garpInterval: TimeSpan.FromMilliseconds(50));
        await WaitFor(() => speaker.State == VrrpState.Backup);
        Assert.Empty(_transport.Sent);

        // Master_Down_Interval = 3 * 100 ms + (256 - 100) * 100 ms / 256 = 360.9 ms
        await AssertTakesOverBetween(speaker, TimeSpan.FromMilliseconds(360), TimeSpan.FromMilliseconds(361));
        Assert.Equal([Vip], _addresses.Bound);
        await WaitFor(() => _transport.Sent.Count >= 1);
        var (message, destination) = _transport.Sent.First();
        Assert.Equal(Group, destination);
        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(message, Self, Group, out var sent));
        Assert.Equal(100, sent!.Priority);

        await WaitFor(() => _announcer.Count >= 1);
        await AdvanceUntil(() => _announcer.Count == 3, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(200));
        _time.Advance(TimeSpan.FromSeconds(1));
        await speaker.IdleAsync();
        Assert.Equal(3, _announcer.Count);
        Assert.Contains(_log, l => l.Contains("BACKUP -> MASTER"));
    }

    [Fact]
    public async Task Without_carrier_at_start_it_starts_in_FAULT_not_MASTER_and_joins_when_the_link_comes_up()
    {
        _link.InitiallyUp = false;
        var speaker = Start(priority: 255);
        await WaitFor(() => speaker.State != VrrpState.Initialize);
        Assert.Equal(VrrpState.Fault, speaker.State);
        Assert.Contains(_log, l => l.Contains("no carrier at start"));
        Assert.Empty(_transport.Sent);
        Assert.Empty(_addresses.Bound);

        _link.Changes.Writer.TryWrite(true);

        // An address owner becomes MASTER at once when it may run at all.
        await WaitFor(() => speaker.State == VrrpState.Master);
        Assert.Equal([Vip], _addresses.Bound);
    }

    [Fact]
    public async Task Address_owner_discards_adverts()
    {
        var speaker = Start(priority: 255);
        await WaitFor(() => speaker.State == VrrpState.Master);

        Receive(Advert(VrrpVersion.V3, 0));
        Receive(Advert(VrrpVersion.V3, 254));

        await WaitFor(() => speaker.Drops[VrrpDropReason.LocalRouterIsAddressOwner] == 2);
        Assert.Equal(VrrpState.Master, speaker.State);
    }

    /// <summary>20 adverts of a priority-200 master, one every 100 ms: the speaker stays BACKUP through each, with no transition.</summary>
    private async Task StaysBackupBehindAHigherPriorityMasterAsync(VrrpSpeaker speaker)
    {
        var transitions = speaker.Transitions;
        for (int i = 0; i < 20; i++)
        {
            var accepted = _observer.Accepted;
            Receive(Advert(VrrpVersion.V3, 200));
            await WaitFor(() => _observer.Accepted > accepted);
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await speaker.IdleAsync();
            Assert.Equal(VrrpState.Backup, speaker.State);
        }
        Assert.Equal(transitions, speaker.Transitions);
    }

    [Fact]
    public async Task Adverts_from_a_higher_priority_master_keep_it_backup()
    {
        var speaker = Start(priority: 100);
        await WaitFor(() => speaker.State == VrrpState.Backup);
        await StaysBackupBehindAHigherPriorityMasterAsync(speaker);
        Assert.Empty(_addresses.Bound);
    }

    [Fact]
    public async Task An_advert_still_queued_in_the_kernel_when_master_down_is_due_is_read_first_and_keeps_it_backup()
    {
        var speaker = Start(priority: 100);
        await WaitFor(() => speaker.State == VrrpState.Backup);
        Receive(Advert(VrrpVersion.V3, 200));
        await WaitFor(() => Peer.Equals(speaker.CurrentMaster));
        var transitions = speaker.Transitions;

        // The master's next advert arrives 100 ms later, but the receive thread is not scheduled to read it; then
        // the master-down deadline (360.9 ms after the first advert) passes.
        _time.Advance(TimeSpan.FromMilliseconds(100));
        _transport.HeldByKernel.Enqueue(new VrrpDatagram(Peer, Group, 255, Advert(VrrpVersion.V3, 200), QueuedFor: TimeSpan.FromMilliseconds(270)));
        _time.Advance(TimeSpan.FromMilliseconds(270));
        await speaker.IdleAsync();

        Assert.True(_transport.HeldByKernel.IsEmpty);
        Assert.Equal(VrrpState.Backup, speaker.State);
        Assert.Equal(transitions, speaker.Transitions);
        // The advert read off the queue counts from when it arrived (270 ms ago): master down is 360.9 ms after that.
        await AssertTakesOverBetween(speaker, TimeSpan.FromMilliseconds(90), TimeSpan.FromMilliseconds(91));
    }

    [Fact]
    public async Task Master_down_timer_counts_from_when_the_advert_came_off_the_wire()
    {
        var speaker = Start(priority: 100);
        await WaitFor(() => speaker.State == VrrpState.Backup);

        // The kernel held the advert 20 ms before it was read: Master_Down_Interval (360.9 ms) runs from then.
        Receive(Advert(VrrpVersion.V3, 200), queuedFor: TimeSpan.FromMilliseconds(20));
        // The event loop took the advert (it now knows the master) before the fake clock moves on.
        await WaitFor(() => Peer.Equals(speaker.CurrentMaster));
        await AssertTakesOverBetween(speaker, TimeSpan.FromMilliseconds(340), TimeSpan.FromMilliseconds(341));
    }

    [Fact]
    public async Task Wrong_password_is_dropped_and_counted_and_changes_nothing()
    {
        var speaker = Start(VrrpVersion.V2, priority: 100, password: "secret1");
        await WaitFor(() => speaker.State == VrrpState.Backup);
        Receive(Advert(VrrpVersion.V2, 200, password: "wrong"));
        await WaitFor(() => speaker.Drops.Total == 1);
        Assert.Equal(1, speaker.Drops[VrrpDropReason.AuthenticationFailed]);
        Assert.Contains(_log, l => l.Contains("AuthenticationFailed") && !l.Contains("secret1") && !l.Contains("wrong"));

        // The bad advert did not reset the master-down timer: it still fires 3 s + skew after start.
        await AssertTakesOverBetween(speaker, TimeSpan.FromMilliseconds(3600), TimeSpan.FromMilliseconds(3610));
    }

    [Fact]
    public async Task A_master_flooded_with_lower_priority_adverts_answers_once_per_interval_and_logs_once_per_10_s()
    {
        var speaker = Start(priority: 200);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        await WaitFor(() => !_transport.Sent.IsEmpty);
        int sentBefore = _transport.Sent.Count;

        // 30 s of fake time with 10 valid lower-priority adverts every 10 ms (30,000), each batch closed by one advert
        // with TTL 254: the speaker handles events in order, so once that drop is counted the whole batch was handled.
        const int Steps = 3000;
        for (int step = 1; step <= Steps; step++)
        {
            for (int k = 0; k < 10; k++) Receive(Advert(VrrpVersion.V3, 100));
            Receive(Advert(VrrpVersion.V3, 100), ttl: 254);
            Assert.True(SpinWait.SpinUntil(() => speaker.Drops[VrrpDropReason.BadTtl] == step, TimeSpan.FromSeconds(10)),
                "the speaker did not handle the flood (real-time guard)");
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        Assert.Equal(VrrpState.Master, speaker.State);
        // Its own adverts every 100 ms (300) and at most one answer per 100 ms: never the 30,000 of one for one.
        int sent = _transport.Sent.Count - sentBefore;
        Assert.InRange(sent, Steps / 10, 2 * Steps / 10 + 2);
        // One line per reason per 10 s: at 0, 10 and 20 s of the 30.
        Assert.Equal(3, _log.Count(l => l.Contains("another router acts as MASTER with a lower priority")));
        Assert.Equal(3, _log.Count(l => l.Contains("dropped an advertisement") && l.Contains(nameof(VrrpDropReason.BadTtl))));
    }

    [Fact]
    public async Task On_the_system_clock_the_loops_own_kernel_timer_alone_drives_take_over_and_adverts()
    {
        // No ITimer is armed for the system clock (it fired on a pool thread at every deadline): the timerfd wait must do it.
        var speaker = Start(priority: 100, time: TimeProvider.System);
        await WaitFor(() => speaker.State == VrrpState.Master);
        var sent = _transport.Sent.Count;
        await WaitFor(() => _transport.Sent.Count >= sent + 5);
        Assert.Equal(2, speaker.Transitions); // INITIALIZE -> BACKUP -> MASTER, nothing else
    }

    [Fact]
    public async Task A_failing_receive_loop_stops_the_speaker_visibly_and_releases_the_vips()
    {
        var speaker = Start(priority: 100);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        Assert.Equal([Vip], _addresses.Bound);

        _transport.Inbound.Writer.Complete(new InvalidOperationException("receive broke"));

        var run = _run!;
        _run = null;
        var failure = await Assert.ThrowsAsync<VrrpSpeakerFailedException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.StartsWith("vrid 51: receiving adverts failed: ", failure.Message);
        Assert.Empty(_addresses.Bound);
    }

    [Fact]
    public async Task Ttl_below_255_is_dropped()
    {
        var speaker = Start(priority: 100);
        await WaitFor(() => speaker.State == VrrpState.Backup);
        Receive(Advert(VrrpVersion.V3, 200), ttl: 254);
        await WaitFor(() => speaker.Drops.Total == 1);
        Assert.Equal(1, speaker.Drops[VrrpDropReason.BadTtl]);
    }

    [Fact]
    public async Task A_vip_removed_by_someone_else_while_master_is_put_back()
    {
        var speaker = Start(priority: 100);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        int announcements = _announcer.Count;
        _addresses.RemoveExternally(Vip);
        await WaitFor(() => _addresses.Bound.Contains(Vip) && _announcer.Count > announcements);
        Assert.Contains(_log, l => l.Contains("was removed from the interface while MASTER"));
    }

    [Fact]
    public async Task Stop_while_master_sends_priority_zero_and_removes_the_vips()
    {
        var speaker = Start(priority: 100);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        _stop.Cancel();
        await _run!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(_addresses.Bound);
        var (message, _) = _transport.Sent.Last();
        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(message, Self, Group, out var last));
        Assert.Equal(0, last!.Priority);
    }

    [Fact]
    public async Task A_set_shutdown_latch_hands_over_without_the_stop_token()
    {
        using var shutdown = new ShutdownLatch();
        var speaker = Start(priority: 100, shutdown: shutdown);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        shutdown.Set(); // what SIGTERM's handler does
        await _run!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(_stop.IsCancellationRequested);
        Assert.Empty(_addresses.Bound);
        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(_transport.Sent.Last().Message, Self, Group, out var last));
        Assert.Equal(0, last!.Priority);
    }

    [Fact]
    public async Task Leftover_vips_from_an_earlier_run_are_removed_before_joining()
    {
        _addresses.Bound.Add(Vip);
        var speaker = Start(priority: 100);
        await WaitFor(() => speaker.State == VrrpState.Backup);
        Assert.Empty(_addresses.Bound);
        Assert.Contains(_log, l => l.Contains("left bound by an earlier run"));
    }

    [Fact]
    public async Task Fault_hands_over_at_once_and_recovery_rejoins_as_backup()
    {
        var speaker = Start(priority: 100);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        speaker.SetFault(true);
        await WaitFor(() => speaker.State == VrrpState.Fault);
        Assert.Empty(_addresses.Bound);
        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(_transport.Sent.Last().Message, Self, Group, out var last));
        Assert.Equal(0, last!.Priority);

        speaker.SetFault(false);
        await WaitFor(() => speaker.State == VrrpState.Backup);
    }

    [Fact]
    public async Task Losing_the_link_gives_up_mastership_and_its_return_goes_through_backup()
    {
        var speaker = Start(priority: 100);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));

        _link.Changes.Writer.TryWrite(false);
        await WaitFor(() => speaker.State == VrrpState.Fault);
        Assert.Empty(_addresses.Bound);
        Assert.Contains(_log, l => l.Contains("link down"));

        // An nginx fault cleared meanwhile must not bring the instance back while the link is down.
        speaker.SetFault(false);
        await speaker.IdleAsync();
        Assert.Equal(VrrpState.Fault, speaker.State);

        _link.Changes.Writer.TryWrite(true);
        await WaitFor(() => speaker.State == VrrpState.Backup);
        int announcements = _announcer.Count;
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        await WaitFor(() => _announcer.Count > announcements);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_run is not null) await _run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_master_given_a_new_priority_and_an_added_vip_keeps_its_vips_binds_the_new_one_and_sends_no_priority_zero()
    {
        var speaker = Start(priority: 100);
        await AdvanceUntil(() => speaker.State == VrrpState.Master, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        var added = new VirtualIp(IPAddress.Parse("198.18.0.101"), 24);
        int announcements = _announcer.Count;
        int sent = _transport.Sent.Count;
        long transitions = speaker.Transitions;

        speaker.Reconfigure(speaker.Options with
        {
            Instance = speaker.Options.Instance with { Priority = 150 },
            VirtualAddresses = [Vip, added],
        });
        await WaitFor(() => _addresses.Bound.Contains(added) && _announcer.Count > announcements && _transport.Sent.Count > sent);

        Assert.Equal(VrrpState.Master, speaker.State);
        Assert.Equal(transitions, speaker.Transitions);
        Assert.Contains(Vip, _addresses.Bound);
        var adverts = _transport.Sent.Select(s => VrrpPacket.TryRead(s.Message, Self, Group, out var a) == VrrpDropReason.Ok ? a! : null).ToArray();
        Assert.DoesNotContain(adverts, a => a!.Priority == 0);
        var last = adverts[^1]!;
        Assert.Equal(150, last.Priority);
        Assert.Equal([Vip.Address, added.Address], last.Addresses);
    }

    [Fact]
    public async Task After_adding_a_vip_a_backup_still_follows_a_master_that_advertises_the_old_list()
    {
        var speaker = Start(priority: 100);
        await WaitFor(() => speaker.State == VrrpState.Backup);
        speaker.Reconfigure(speaker.Options with { VirtualAddresses = [Vip, new VirtualIp(IPAddress.Parse("198.18.0.101"), 24)] });
        await WaitFor(() => speaker.Options.VirtualAddresses.Count == 2 && _log.Any(l => l.Contains("changed in place")));
        await StaysBackupBehindAHigherPriorityMasterAsync(speaker);
        Assert.Equal(0, speaker.Drops.Total);
    }

    [Fact]
    public async Task A_removed_vip_cannot_be_changed_in_place()
    {
        var speaker = Start(priority: 100);
        Assert.Throws<ArgumentException>(() => speaker.Reconfigure(speaker.Options with { VirtualAddresses = [new VirtualIp(IPAddress.Parse("198.18.0.101"), 24)] }));
        await WaitFor(() => speaker.State == VrrpState.Backup);
    }

    sealed class FakeTransport : IVrrpTransport
    {
        public readonly Channel<VrrpDatagram> Inbound = Channel.CreateUnbounded<VrrpDatagram>();
        public readonly ConcurrentQueue<(byte[] Message, IPAddress Destination)> Sent = new();
        public IPAddress SourceAddress => Self;
        public IReadOnlyList<IPAddress> Destinations => [Group];

        public ValueTask SendAsync(ReadOnlyMemory<byte> vrrpMessage, IPAddress destination, CancellationToken ct)
        {
            Sent.Enqueue((vrrpMessage.ToArray(), destination));
            return ValueTask.CompletedTask;
        }

        /// <summary>Hands what <see cref="Inbound"/> receives to the speaker, from a thread of its own (as the socket's).</summary>
        public IDisposable StartReceiving(Action<VrrpDatagram> deliver, Action<Exception> failed)
        {
            var stop = new CancellationTokenSource();
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var datagram in Inbound.Reader.ReadAllAsync(stop.Token)) deliver(datagram);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (Exception ex)
                {
                    failed(ex);
                }
            });
            return new Cancels(stop);
        }

        sealed class Cancels(CancellationTokenSource stop) : IDisposable
        {
            public void Dispose() => stop.Cancel();
        }

        /// <summary>Held by the "kernel" but not yet read by the receive thread (which never reads these).</summary>
        public readonly ConcurrentQueue<VrrpDatagram> HeldByKernel = new();

        public bool TryReceiveQueued(out VrrpDatagram datagram) => HeldByKernel.TryDequeue(out datagram);

        public void Dispose() { }
    }

    sealed class FakeAddressTable : IVirtualAddressTable
    {
        readonly Channel<IPAddress> _removals = Channel.CreateUnbounded<IPAddress>();
        public readonly List<VirtualIp> Bound = new();

        public void Add(VirtualIp address) { lock (Bound) if (!Bound.Contains(address)) Bound.Add(address); }
        public void Remove(VirtualIp address) { lock (Bound) Bound.Remove(address); }
        public IReadOnlyList<VirtualIp> ListOwned() { lock (Bound) return Bound.ToArray(); }

        public void RemoveExternally(VirtualIp address)
        {
            Remove(address);
            _removals.Writer.TryWrite(address.Address);
        }

        public ValueTask<IPAddress> WaitForRemovalAsync(CancellationToken ct) => _removals.Reader.ReadAsync(ct);
        public void Dispose() { }
    }

    /// <summary>Counts adverts the speaker's loop accepted (after it acted on them).</summary>
    sealed class AcceptCounter : IVrrpSpeakerObserver
    {
        int _accepted;
        public int Accepted => Volatile.Read(ref _accepted);
        public void StateChanged(VrrpState from, VrrpState to, string reason) { }
        public void AdvertSent(byte priority) { }
        public void AdvertAccepted(IPAddress source, byte priority, VrrpState before, VrrpState after) => Interlocked.Increment(ref _accepted);
        public void AdvertDropped(VrrpDropReason reason, IPAddress source, VrrpAdvertisement? advert) { }
        public void AddressesBound(int count) { }
        public void Announced(int count) { }
    }

    sealed class FakeLink : ILinkMonitor
    {
        public bool InitiallyUp { get; set; } = true;
        public readonly Channel<bool> Changes = Channel.CreateUnbounded<bool>();
        public ValueTask<bool> WaitForChangeAsync(CancellationToken ct) => Changes.Reader.ReadAsync(ct);
        public void Dispose() { }
    }

    sealed class FakeAnnouncer : IAddressAnnouncer
    {
        int _count;
        public int Count => Volatile.Read(ref _count);
        public void Announce(IReadOnlyList<IPAddress> addresses) => Interlocked.Increment(ref _count);
        public void Dispose() { }
    }
}
