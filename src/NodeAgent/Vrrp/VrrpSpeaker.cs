using System.Net;
using System.Collections.Concurrent;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>Everything one running VRRP instance needs beyond the state machine's own config.</summary>
public sealed record VrrpSpeakerOptions(
    string Name,
    VrrpInstanceConfig Instance,
    IReadOnlyList<VirtualIp> VirtualAddresses,
    ReadOnlyMemory<byte> AuthData,
    int GratuitousRepeat = 5,
    TimeSpan GratuitousInterval = default,
    TimeSpan GratuitousRefresh = default)
{
    public VrrpAuthType AuthType => AuthData.IsEmpty ? VrrpAuthType.None : VrrpAuthType.SimpleText;
}

/// <summary>
/// Runs one VRRP instance: feeds "advert received" and "timer fired" into <see cref="VrrpStateMachine"/>
/// from a single event loop and carries out the actions it returns (send adverts, bind and announce VIPs,
/// release them). All time comes from the injected <see cref="TimeProvider"/>: deadlines are
/// <see cref="MonotonicTime"/>s read from its <see cref="TimeProvider.GetTimestamp"/>, and the loop waits the same way
/// whatever the provider (see <see cref="NextEvent"/>).
/// </summary>
public sealed class VrrpSpeaker
{
    // Replaced only on the event loop (Reconfigure); read elsewhere only for fields that never change in place.
    volatile VrrpSpeakerOptions _options;
    readonly IVrrpTransport _transport;
    readonly IVirtualAddressTable _addresses;
    readonly IAddressAnnouncer _announcer;
    readonly TimeProvider _time;
    readonly Action<string> _log;
    readonly VrrpStateMachine _machine;
    VrrpReceiveRules _rules;
    // Consumed by the speaker's own thread, which _wake wakes directly (never waiting for a pool thread).
    readonly ConcurrentQueue<Event> _events = new();
    // Lives while Run runs; events posted before that wait in the queue.
    volatile EventLoopSignal? _wake;
    IReadOnlyList<IPAddress> _vipAddresses;
    // One line per reason (drops, lower-priority masters) per 10 s, whatever the packet rate.
    readonly LogRateLimiter _logLimit = new(LogRateLimiter.DefaultPeriod);

    readonly ILinkMonitor? _link;
    readonly IVrrpSpeakerObserver _observer;
    bool _linkDown;
    int _gratuitousLeft;
    MonotonicTime? _nextGratuitous;
    volatile VrrpState _state = VrrpState.Initialize;

    public VrrpSpeaker(VrrpSpeakerOptions options, IVrrpTransport transport, IVirtualAddressTable addresses,
        IAddressAnnouncer announcer, TimeProvider time, Action<string> log, ILinkMonitor? link = null,
        IVrrpSpeakerObserver? observer = null)
    {
        _link = link;
        _observer = observer ?? NoSpeakerObserver.Instance;
        _options = options;
        _transport = transport;
        _addresses = addresses;
        _announcer = announcer;
        _time = time;
        _log = log;
        _machine = new VrrpStateMachine(options.Instance);
        _vipAddresses = options.VirtualAddresses.Select(v => v.Address).ToArray();
        _rules = new VrrpReceiveRules(options.Instance.Version, options.Instance.VirtualRouterId, _vipAddresses,
            options.Instance.AdvertInterval, options.AuthType, options.AuthData,
            LocalIsAddressOwner: options.Instance.IsAddressOwner);
    }

    public VrrpState State => _state;

    /// <summary>The options in effect (the last <see cref="Reconfigure"/> once the event loop took it).</summary>
    public VrrpSpeakerOptions Options => _options;

    /// <summary>The router currently MASTER (our own address while we are), null when none is known.</summary>
    public IPAddress? CurrentMaster => _currentMaster;
    volatile IPAddress? _currentMaster;
    public VrrpDropCounters Drops { get; } = new();
    public long Transitions => Interlocked.Read(ref _transitions);
    long _transitions;

    /// <summary>Raised on the event loop after every state change.</summary>
    public event Action<VrrpState, VrrpState>? StateChanged;

    /// <summary>nginx cannot serve (true) or serves again (false): give up or rejoin at once.</summary>
    public void SetFault(bool fault)
    {
        _faultRequested = fault;
        Post(new FaultEvent(fault));
    }

    // A fault reported before RunAsync must hold from the first moment: Startup then goes straight to FAULT.
    volatile bool _faultRequested;

    /// <summary>
    /// Changes priority, advert interval, preempt settings or appends VIPs while running, without a hand-over: a master
    /// keeps its VIPs (binding and announcing added ones). Anything else (VRID, version, interface, source address,
    /// password, removed VIPs) needs a new speaker.
    /// </summary>
    public void Reconfigure(VrrpSpeakerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var current = _options;
        if (options.Instance.VirtualRouterId != current.Instance.VirtualRouterId || options.Instance.Version != current.Instance.Version
            || !options.Instance.PrimaryAddress.Equals(current.Instance.PrimaryAddress)
            || options.Instance.IsAddressOwner != current.Instance.IsAddressOwner
            || !options.AuthData.Span.SequenceEqual(current.AuthData.Span)
            || options.VirtualAddresses.Count < current.VirtualAddresses.Count
            || !options.VirtualAddresses.Take(current.VirtualAddresses.Count).SequenceEqual(current.VirtualAddresses))
            throw new ArgumentException($"{current.Name}: only priority, advert interval, preempt and added VIPs change in place.", nameof(options));
        options.Instance.Validate();
        Post(new ReconfigureEvent(options));
    }

    /// <summary>
    /// Runs until <paramref name="stop"/> fires or <paramref name="shutdown"/> is set, then hands over (priority 0)
    /// and removes the VIPs. The latch wakes this speaker's thread straight from a signal handler.
    /// </summary>
    public Task RunAsync(CancellationToken stop, ShutdownLatch? shutdown = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(stop, shutdown);
                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = $"vrrp {_options.Name}",
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>
    /// <see cref="RunAsync"/> on the calling thread, returning after the hand-over. The vrrp command runs it on the
    /// process's main thread, which is where Linux delivers a `kill` to the process: the signal then wakes this loop
    /// itself, and no second thread has to be scheduled before the priority-0 advert.
    /// </summary>
    public void Run(CancellationToken stop, ShutdownLatch? shutdown)
    {
        using var ioStop = new CancellationTokenSource();
        using var wake = _wake = new EventLoopSignal(shutdown);
        // Armed for the next deadline when the provider is not the system clock: only it knows when its time reaches a
        // deadline (a fake clock's Advance). The system clock's time is the kernel's monotonic clock, which the loop's own
        // timerfd wait measures (NextEvent); a mirror ITimer there fired on a pool thread at about every deadline, a
        // wake-up and a pool hand-off each (half the agent's CPU with 10 instances at 100 ms, docs/benchmarks.md).
        using var timer = _time == TimeProvider.System ? null
            : _time.CreateTimer(_ => Post(TimerEvent.Instance), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        using var stopRegistration = stop.Register(() => Post(StopEvent.Instance));

        Rehearse();
        RemoveLeftovers();
        // The transport's receive thread only queues: this loop stays the one thread that acts.
        using var receiving = _transport.StartReceiving(d => Post(new PacketEvent(d, Now() - d.QueuedFor)),
            error => Post(new FailedEvent("receiving adverts", error)));
        var watch = Task.Run(() => WatchLoop(ioStop.Token));
        var carrier = _link is null ? Task.CompletedTask : Task.Run(() => LinkLoop(ioStop.Token));
        // A helper loop that dies of an unexpected error takes the speaker down with it, visibly: never a master that
        // still adverts but no longer hears its peers or its link.
        ReportFailure(watch, "watching the addresses");
        ReportFailure(carrier, "watching the link");
        try
        {
            if (_link is { InitiallyUp: false })
            {
                _linkDown = true;
                _log($"{_options.Name}: no carrier at start: FAULT until the link is up");
            }
            if (_faultRequested || _linkDown) Execute(_machine.SetFault(Now(), true));
            Execute(_machine.Startup(Now()));
            Reschedule(timer);
            while (true)
            {
                var e = NextEvent();
                if (e is StopEvent)
                {
                    Execute(_machine.Shutdown());
                    break;
                }
                if (e is FailedEvent failed)
                    throw new VrrpSpeakerFailedException($"{_options.Name}: {failed.What} failed: {failed.Error.Message}", failed.Error);
                Handle(e);
                Reschedule(timer);
            }
        }
        finally
        {
            ioStop.Cancel();
            try
            {
                Task.WaitAll(watch, carrier);
            }
            catch (AggregateException)
            {
                // Already raised through a FailedEvent, or the loop is ending anyway.
            }
            if (_state == VrrpState.Master)
                ReleaseAddresses();
            foreach (var idle in _idleProbes) idle.TrySetCanceled();
            while (_events.TryDequeue(out var left))
                if (left is IdleProbeEvent probe) probe.Idle.TrySetCanceled();
        }
    }

    /// <summary>How long before a backup's deadline its thread wakes to spin (bench/takeover-delay.sh).</summary>
    static readonly TimeSpan TakeOverSpin = TimeSpan.FromMicroseconds(250);

    /// <summary>
    /// Completes once the loop has handled every event posted before this call, and everything due by then, and
    /// waits for the next one: with a fake clock, the point at which "nothing happened by now" is a fact rather than
    /// a guess about how long to sleep. Cancelled if the loop ends first.
    /// </summary>
    internal Task IdleAsync()
    {
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new IdleProbeEvent(idle));
        return idle.Task;
    }

    // Idle probes taken from the queue, answered when the loop next blocks with nothing due.
    readonly List<TaskCompletionSource> _idleProbes = [];

    void Post(Event e)
    {
        _events.Enqueue(e);
        _wake?.Signal();
    }

    MonotonicTime Now() => MonotonicTime.Now(_time);

    /// <summary>
    /// The next event, or a timer event when the earliest deadline is due by the provider's clock. One path for
    /// every provider: the thread waits on a kernel timer (timerfd) for the time left by that clock, and the
    /// provider's <see cref="ITimer"/>, armed for the same deadline, posts a timer event. With the system clock the
    /// kernel wait wakes the thread at the deadline, to the microsecond, with no timer thread or pool hop in between
    /// (that cost milliseconds of failover on a busy machine). With a fake clock the wait's length means nothing,
    /// and the timer's event on Advance is what wakes it. Either way nothing fires before the clock says so: a wake
    /// (or a timer event) with nothing due only waits again (or is a no-op).
    /// </summary>
    Event NextEvent()
    {
        while (true)
        {
            if (_events.TryDequeue(out var e))
            {
                if (e is not IdleProbeEvent probe) return e;
                _idleProbes.Add(probe.Idle);
                continue;
            }
            if (_wake!.ShutdownRequested) return StopEvent.Instance;
            var due = NextDue();
            if (due is null)
            {
                AnswerIdleProbes();
                _wake!.Wait(null);
                continue;
            }
            var wait = due.Value - Now();
            if (wait <= TimeSpan.Zero) return TimerEvent.Instance;
            AnswerIdleProbes();
            if (_state != VrrpState.Backup)
            {
                _wake!.Wait(wait);
                continue;
            }
            // A backup reaches its master-down deadline only when the master is gone (each advert moves it a whole
            // interval away); its one other deadline, the end of a preempt delay, comes once after start. It wakes a
            // little early and spins up to it, so the take-over does not wait for an idle CPU to come back. An event
            // during the spin is taken first.
            if (wait > TakeOverSpin)
            {
                _wake!.Wait(wait - TakeOverSpin);
                continue;
            }
            // A clock that stands still while we spin (a fake one) only moves by its own hand: its timer's event.
            if (!SpinUntil(due.Value)) _wake!.Wait(null);
        }
    }

    void AnswerIdleProbes()
    {
        if (_idleProbes.Count == 0) return;
        foreach (var idle in _idleProbes) idle.TrySetResult();
        _idleProbes.Clear();
    }

    /// <summary>Spins until an event comes or <paramref name="due"/> is reached (true), or the clock stops moving (false).</summary>
    bool SpinUntil(MonotonicTime due)
    {
        var last = Now();
        while (_events.IsEmpty && last < due)
        {
            Thread.SpinWait(16);
            var now = Now();
            if (now == last) return false;
            last = now;
        }
        return true;
    }

    MonotonicTime? NextDue()
    {
        MonotonicTime? due = _machine.NextTimerDue;
        if (_nextGratuitous is { } garp && (due is null || garp < due)) due = garp;
        return due;
    }

    /// <summary>
    /// Runs the take-over and hand-over code once on scratch data, so it is compiled before it is needed:
    /// a backup has never encoded an advert or become MASTER, and compiling that on the spot cost
    /// milliseconds of failover (docs/benchmarks.md).
    /// </summary>
    void Rehearse()
    {
        var instance = _options.Instance;
        var source = _transport.SourceAddress;
        var destination = _transport.Destinations[0];
        var advert = new VrrpAdvertisement(instance.Version, instance.VirtualRouterId, instance.Priority, instance.AdvertInterval,
            _vipAddresses, _options.AuthType, _options.AuthData);
        var buffer = new byte[VrrpPacket.GetEncodedLength(advert)];
        VrrpPacket.Write(buffer, advert, source, destination);
        if (VrrpPacket.TryRead(buffer, source, destination, out var decoded) == VrrpDropReason.Ok)
            VrrpReceiveValidator.Validate(decoded!, VrrpPacket.RequiredTtl, _rules);

        // The machine takes time as input, so a scratch one runs through a take-over on made-up instants.
        var now = Now();
        var machine = new VrrpStateMachine(instance);
        machine.Startup(now);
        machine.OnAdvertisementReceived(now, source, VrrpInstanceConfig.AddressOwnerPriority, instance.AdvertInterval);
        machine.OnAdvertisementReceived(now, source, VrrpInstanceConfig.StopParticipatingPriority, instance.AdvertInterval, now);
        now += machine.MasterDownInterval;
        machine.OnTimerFired(now);
        machine.OnAdvertisementReceived(now, source, 1, instance.AdvertInterval);
        machine.SetFault(now, true);
        machine.SetFault(now, false);
        machine.Shutdown();
        SpinUntil(Now()); // compiled too: a backup enters it 250 us before its take-over
    }

    void Handle(Event e)
    {
        switch (e)
        {
            case PacketEvent p:
                OnDatagram(p.Datagram, p.ArrivedAt);
                break;
            case TimerEvent:
                var now = Now();
                // What the kernel already holds goes before a due timer (keepalived reads a readable socket first): an
                // advert that arrived in time must not lose to the master-down timer it resets only because the
                // receive thread was not scheduled yet (934 early take-overs in 10 min under CPU hogs: bench/soak.sh).
                while (_state == VrrpState.Backup && _machine.NextTimerDue is { } pending && pending <= now
                       && _transport.TryReceiveQueued(out var queued))
                    OnDatagram(queued, now - queued.QueuedFor);
                if (_machine.NextTimerDue is { } due && due <= now)
                    Execute(_machine.OnTimerFired(now));
                if (_nextGratuitous is { } garp && garp <= now)
                    SendGratuitous();
                break;
            case RemovedEvent r when _state == VrrpState.Master:
                var vip = _options.VirtualAddresses.FirstOrDefault(v => v.Address.Equals(r.Address));
                if (vip.Address is null) break;
                _log($"{_options.Name}: {vip} was removed from the interface while MASTER; adding it back");
                TryAddress(vip, add: true);
                _announcer.Announce([vip.Address]);
                _observer.Announced(1);
                break;
            case FaultEvent:
                Execute(_machine.SetFault(Now(), _faultRequested || _linkDown));
                break;
            case ReconfigureEvent r:
                Reconfigured(r.Options);
                break;
            case LinkEvent l:
                // Like keepalived: no carrier, no mastership. Coming back goes through BACKUP and a normal
                // take-over, whose gratuitous ARP brings back hosts that followed the peer meanwhile.
                _linkDown = !l.Up;
                _log($"{_options.Name}: link {(l.Up ? "up" : "down")}");
                Execute(_machine.SetFault(Now(), _faultRequested || _linkDown));
                break;
        }
    }

    void Reconfigured(VrrpSpeakerOptions options)
    {
        var before = _options;
        var added = options.VirtualAddresses.Skip(before.VirtualAddresses.Count).ToArray();
        _options = options;
        _vipAddresses = options.VirtualAddresses.Select(v => v.Address).ToArray();
        _rules = new VrrpReceiveRules(options.Instance.Version, options.Instance.VirtualRouterId, _vipAddresses,
            options.Instance.AdvertInterval, options.AuthType, options.AuthData,
            PreviousAddresses: added.Length > 0 ? before.VirtualAddresses.Select(v => v.Address).ToArray() : _rules.PreviousAddresses);
        var a = before.Instance;
        var b = options.Instance;
        _log($"{options.Name}: changed in place (priority {a.Priority} -> {b.Priority}, advert interval " +
             $"{a.AdvertInterval.TotalMilliseconds}ms -> {b.AdvertInterval.TotalMilliseconds}ms, preempt {a.Preempt} -> {b.Preempt}" +
             (added.Length > 0 ? $", VIPs added: {string.Join(" ", added)}" : "") + $"); still {Name(_state)}");
        Execute(_machine.Reconfigure(Now(), b));
        if (_state == VrrpState.Master && added.Length > 0)
        {
            foreach (var vip in added) TryAddress(vip, add: true);
            _gratuitousLeft = options.GratuitousRepeat;
            SendGratuitous();
        }
    }

    void OnDatagram(VrrpDatagram d, MonotonicTime arrivedAt)
    {
        if (d.Source.Equals(_transport.SourceAddress)) return;
        var reason = VrrpPacket.TryRead(d.Message.Span, d.Source, d.Destination, out var advert);
        if (reason == VrrpDropReason.Ok)
        if (reason == VrrpDropReason.Ok)
            reason = VrrpReceiveValidator.Validate(advert!, d.TtlOrHopLimit, _rules);
        if (reason != VrrpDropReason.Ok)
        {
            _observer.AdvertDropped(reason, d.Source, advert);
            Drop(reason, d.Source);
            return;
        }
        // The peer took our VIP change too: its old list is no longer accepted.
        if (_rules.PreviousAddresses is not null && VrrpReceiveValidator.ListsCurrentAddresses(advert!, _rules))
            _rules = _rules with { PreviousAddresses = null };
        var before = _state;
        Execute(_machine.OnAdvertisementReceived(Now(), d.Source, advert!.Priority, advert.AdvertInterval, arrivedAt));
        _observer.AdvertAccepted(d.Source, advert.Priority, before, _state);
    }

    void Drop(VrrpDropReason reason, IPAddress source)
    {
        Drops.Increment(reason);
        // Other routers' VRIDs share the multicast group: counted, never logged.
        if (reason == VrrpDropReason.UnknownVirtualRouterId) return;
        if (!_logLimit.TryLog(reason.ToString(), Now(), out _)) return;
        _log($"{_options.Name}: dropped an advertisement from {source}: {reason.Describe()} ({reason}; dropped so far for this reason: {Drops[reason]})");
    }

    void Execute(IReadOnlyList<VrrpAction> actions)
    {
        ExecuteActions(actions);
        _currentMaster = _machine.CurrentMaster;
    }

    void ExecuteActions(IReadOnlyList<VrrpAction> actions)
    {
        // On a take-over, bind and announce the VIPs before the first advert goes out (RFC 5798 lists the
        // advert first): hosts are served from the moment the gratuitous ARP lands, a millisecond sooner.
        foreach (var action in actions.OrderBy(a => a is VrrpAction.AcquireAddresses ? 0 : 1))
        {
            switch (action)
            {
                case VrrpAction.SendAdvertisement send:
                    SendAdvertisement(send.Priority);
                    break;
                case VrrpAction.AcquireAddresses:
                    _observer.AddressesBound(_options.VirtualAddresses.Count(vip => TryAddress(vip, add: true)));
                    _gratuitousLeft = _options.GratuitousRepeat;
                    SendGratuitous();
                    break;
                case VrrpAction.AnnounceAddresses:
                    // One burst at a time, however often a competing master speaks (as keepalived, one per advert
                    // at most). No longer limit: a second split soon after the first must be repaired as fast.
                    if (_nextGratuitous is null)
                    {
                        if (_logLimit.TryLog("lower-priority master", Now(), out var heldBack))
                            _log($"{_options.Name}: another router acts as MASTER with a lower priority; announcing our addresses again" +
                                 (heldBack > 0 ? $" (also {heldBack} time(s) since the last such line)" : ""));
                        _gratuitousLeft = _options.GratuitousRepeat;
                        SendGratuitous();
                    }
                    break;
                case VrrpAction.ReleaseAddresses:
                    ReleaseAddresses();
                    break;
                case VrrpAction.StateChanged changed:
                    _state = changed.To;
                    Interlocked.Increment(ref _transitions);
                    // Observer first: a structured log attaches from/to/reason to the line that follows on this thread.
                    _observer.StateChanged(changed.From, changed.To, changed.Reason);
                    _log($"{_options.Name}: {Name(changed.From)} -> {Name(changed.To)} ({changed.Reason})");
                    StateChanged?.Invoke(changed.From, changed.To);
                    break;
            }
        }
    }

    static string Name(VrrpState s) => s.ToString().ToUpperInvariant();

    void ReleaseAddresses()
    {
        _nextGratuitous = null;
        foreach (var vip in _options.VirtualAddresses) TryAddress(vip, add: false);
        _observer.AddressesBound(0);
    }

    void SendAdvertisement(byte priority)
    {
        var advert = new VrrpAdvertisement(_options.Instance.Version, _options.Instance.VirtualRouterId, priority,
            _options.Instance.AdvertInterval, _vipAddresses, _options.AuthType, _options.AuthData);
        var buffer = new byte[VrrpPacket.GetEncodedLength(advert)];
        foreach (var destination in _transport.Destinations)
        {
            int length = VrrpPacket.Write(buffer, advert, _transport.SourceAddress, destination);
            try
            {
                // Raw sends complete synchronously; waiting keeps the event loop's order of effects.
                _transport.SendAsync(buffer.AsMemory(0, length), destination, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                _observer.AdvertSent(priority);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
            {
                _log($"{_options.Name}: sending an advertisement to {destination} failed: {ex.Message}");
            }
        }
    }

    void SendGratuitous()
    {
        // Scheduled only while MASTER: ReleaseAddresses clears the schedule.
        try
        {
            _announcer.Announce(_vipAddresses);
            _observer.Announced(_vipAddresses.Count);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
        {
            _log($"{_options.Name}: gratuitous announcement failed: {ex.Message}");
        }
        var now = Now();
        if (--_gratuitousLeft > 0)
            _nextGratuitous = now + _options.GratuitousInterval;
        else
            _nextGratuitous = _options.GratuitousRefresh > TimeSpan.Zero ? now + _options.GratuitousRefresh : null;
    }

    bool TryAddress(VirtualIp vip, bool add)
    {
        try
        {
            if (add) _addresses.Add(vip);
            else _addresses.Remove(vip);
            return true;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or InvalidOperationException)
        {
            _log($"{_options.Name}: {(add ? "adding" : "removing")} {vip} failed: {ex.Message}");
            return false;
        }
    }

    void RemoveLeftovers()
    {
        foreach (var leftover in _addresses.ListOwned())
        {
            if (!_vipAddresses.Contains(leftover.Address)) continue;
            _log($"{_options.Name}: removing {leftover}, left bound by an earlier run");
            TryAddress(leftover, add: false);
        }
    }

    void Reschedule(ITimer? timer)
    {
        if (timer is null) return;
        var due = NextDue();
        if (due is null)
        {
            timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        var wait = due.Value - Now();
        timer.Change(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    async Task WatchLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var removed = await _addresses.WaitForRemovalAsync(ct).ConfigureAwait(false);
                Post(new RemovedEvent(removed));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
            {
                _log($"{_options.Name}: watching addresses failed: {ex.Message}");
                await Task.Delay(TimeSpan.FromSeconds(1), _time, ct).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
        }
    }

    async Task LinkLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                bool up = await _link!.WaitForChangeAsync(ct).ConfigureAwait(false);
                Post(new LinkEvent(up));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
            {
                _log($"{_options.Name}: watching the link failed: {ex.Message}");
                await Task.Delay(TimeSpan.FromSeconds(1), _time, ct).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
        }
    }

    void ReportFailure(Task loop, string what) =>
        loop.ContinueWith(t => Post(new FailedEvent(what, t.Exception!.InnerException!)), CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    abstract record Event;
    sealed record FailedEvent(string What, Exception Error) : Event;
    sealed record PacketEvent(VrrpDatagram Datagram, MonotonicTime ArrivedAt) : Event;
    sealed record TimerEvent : Event { public static readonly TimerEvent Instance = new(); }
    sealed record StopEvent : Event { public static readonly StopEvent Instance = new(); }
    sealed record RemovedEvent(IPAddress Address) : Event;
    sealed record FaultEvent(bool Fault) : Event;
    sealed record LinkEvent(bool Up) : Event;
    sealed record ReconfigureEvent(VrrpSpeakerOptions Options) : Event;
    sealed record IdleProbeEvent(TaskCompletionSource Idle) : Event;
}

/// <summary>A speaker stopped because one of its loops failed; the VIPs were released on the way out.</summary>
public sealed class VrrpSpeakerFailedException(string message, Exception inner) : Exception(message, inner);
