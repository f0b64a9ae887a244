using System.Net;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// The VRRP state machine of one virtual router: RFC 5798 section 6.4 (v3) and RFC 3768 section 6.4 (v2),
/// plus keepalived's FAULT state and preempt delay. Pure: it owns no threads, sockets, timers or clock. The driver
/// feeds it "advert received" and "timer fired" events, each with the current <see cref="MonotonicTime"/>, executes
/// the returned <see cref="VrrpAction"/>s in order, and calls <see cref="OnTimerFired"/> when <see cref="NextTimerDue"/>
/// is reached. Production and tests drive it the same way; only where "now" comes from differs. Not thread-safe:
/// the driver serializes calls.
/// </summary>
public sealed class VrrpStateMachine
{
    private static readonly IReadOnlyList<VrrpAction> NoActions = [];

    private VrrpInstanceConfig _config;

    // RFC timers, held as absolute deadlines; null = not running.
    private MonotonicTime? _adverTimerDue;
    private MonotonicTime? _masterDownTimerDue;
    // Set while Master_Down_Timer runs Skew_Time after a priority-0 advert, so the take-over says which timer it was.
    private bool _masterResigned;
    private MonotonicTime? _preemptDelayDue;

    // A master answers a lower-priority advert at most once per advert interval: a flood of them (valid, or spoofed
    // with a valid VRID) must not become a flood of adverts from us.
    private MonotonicTime? _nextLowerPriorityAnswer;

    // The external "cannot serve" condition; survives Shutdown so a later Startup enters Fault directly.
    private bool _faulted;

    public VrrpStateMachine(VrrpInstanceConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        _config = config;
        MasterAdverInterval = config.AdvertInterval;
    }

    public VrrpInstanceConfig Config => _config;

    public VrrpState State { get; private set; } = VrrpState.Initialize;

    /// <summary>The current master's advertisement interval; v3 learns it from the master's adverts.</summary>
    public TimeSpan MasterAdverInterval { get; private set; }

    /// <summary>
    /// v3: ((256 - Priority) * Master_Adver_Interval) / 256; v2: (256 - Priority) / 256 seconds.
    /// Truncated to whole ticks (100 ns).
    /// </summary>
    public TimeSpan SkewTime => _config.Version == VrrpVersion.V2
        ? TimeSpan.FromTicks((256 - _config.Priority) * TimeSpan.TicksPerSecond / 256)
        : TimeSpan.FromTicks((256 - _config.Priority) * MasterAdverInterval.Ticks / 256);

    /// <summary>3 * Master_Adver_Interval + Skew_Time (v2: the configured interval, which v2 never learns).</summary>
    public TimeSpan MasterDownInterval => 3 * MasterAdverInterval + SkewTime;

    /// <summary>Source of the last accepted advert, our own address while Master, null when no master is known.</summary>
    public IPAddress? CurrentMaster { get; private set; }

    /// <summary>Number of state changes since construction.</summary>
    public long Transitions { get; private set; }

    /// <summary>When the preempt delay ends, while it runs (null otherwise).</summary>
    public MonotonicTime? PreemptDelayDue => _preemptDelayDue;

    /// <summary>When the driver must call <see cref="OnTimerFired"/> next; null when no timer runs.</summary>
    public MonotonicTime? NextTimerDue => State switch
    {
        VrrpState.Master => _adverTimerDue,
        VrrpState.Backup => Earliest(_masterDownTimerDue, _preemptDelayDue),
        _ => null,
    };

    /// <summary>RFC 6.4.1 Startup event. Valid only in Initialize.</summary>
    public IReadOnlyList<VrrpAction> Startup(MonotonicTime now)
    {
        if (State != VrrpState.Initialize)
            throw new InvalidOperationException($"Startup is only valid in state Initialize; the instance is in {State}.");

        var actions = new List<VrrpAction>();
        if (_faulted)
            Transition(actions, VrrpState.Fault, "startup while faulted");
        else
            Start(actions, now, "startup");
        return actions;
    }

    /// <summary>
    /// An advert for this virtual router, already validated by the codec and the receive path. Timers it resets
    /// count from <paramref name="receivedAt"/> (when it came off the wire) if given and not in the future:
    /// the time the packet then spent reaching this call does not delay a take-over.
    /// </summary>
    public IReadOnlyList<VrrpAction> OnAdvertisementReceived(MonotonicTime now, IPAddress source, byte priority,
        TimeSpan advertInterval, MonotonicTime? receivedAt = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.AddressFamily != _config.PrimaryAddress.AddressFamily)
            throw new ArgumentException(
                $"Advert source {source} is {source.AddressFamily} but this instance runs over {_config.PrimaryAddress.AddressFamily}.",
                nameof(source));
        if (_config.Version == VrrpVersion.V3 && advertInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(advertInterval), advertInterval, "A VRRPv3 advert interval must be positive.");

        var arrival = receivedAt is { } at && at < now ? at : now;
        return State switch
        {
            VrrpState.Backup => BackupReceived(source, priority, advertInterval, now, arrival),
            VrrpState.Master => MasterReceived(source, priority, advertInterval, now, arrival),
            _ => NoActions, // Initialize and Fault ignore adverts.
        };
    }

    /// <summary>Acts on every timer due at the current time; no actions when none is due.</summary>
    public IReadOnlyList<VrrpAction> OnTimerFired(MonotonicTime now)
    {
        var actions = new List<VrrpAction>();
        switch (State)
        {
            case VrrpState.Master when _adverTimerDue <= now:
                actions.Add(new VrrpAction.SendAdvertisement(_config.Priority));
                _adverTimerDue = now + _config.AdvertInterval;
                break;
            case VrrpState.Backup:
                if (_preemptDelayDue <= now)
                    _preemptDelayDue = null;
                if (_masterDownTimerDue <= now)
                    BecomeMaster(actions, now, _masterResigned ? "the master resigned with priority 0; Skew_Time expired" : "master down timer expired");
                break;
        }

        return actions;
    }

    /// <summary>
    /// Changes priority, advert interval or preempt settings while running, as RFC 5798 lets a router do: no state
    /// change, no priority-0 advert. A master announces its new priority and interval at once; a backup's running
    /// Master_Down_Timer stands (the next advert restarts it with the new Skew_Time). The version, VRID, primary
    /// address and the address-owner role cannot change in place.
    /// </summary>
    public IReadOnlyList<VrrpAction> Reconfigure(MonotonicTime now, VrrpInstanceConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (config.Version != _config.Version || config.VirtualRouterId != _config.VirtualRouterId
            || !config.PrimaryAddress.Equals(_config.PrimaryAddress) || config.IsAddressOwner != _config.IsAddressOwner)
            throw new ArgumentException("Version, VirtualRouterId, PrimaryAddress and the address-owner role need a restart.", nameof(config));

        var previous = _config;
        _config = config;
        if (!config.Preempt)
            _preemptDelayDue = null;
        if (config.Version == VrrpVersion.V2 || State != VrrpState.Backup)
            MasterAdverInterval = config.AdvertInterval;
        if (State == VrrpState.Master && (previous.Priority != config.Priority || previous.AdvertInterval != config.AdvertInterval))
        {
            _adverTimerDue = now + config.AdvertInterval;
            return [new VrrpAction.SendAdvertisement(config.Priority)];
        }
        return NoActions;
    }

    /// <summary>RFC 6.4.3 Shutdown: a master resigns with priority 0; every state goes to Initialize.</summary>
    public IReadOnlyList<VrrpAction> Shutdown()
    {
        if (State == VrrpState.Initialize)
            return NoActions;

        var actions = new List<VrrpAction>();
        Leave(actions, VrrpState.Initialize, "shutdown");
        _preemptDelayDue = null;
        return actions;
    }

    /// <summary>
    /// true: the node cannot serve; a master resigns like at shutdown, and the instance stays in Fault
    /// (no adverts, never master). false: the instance starts again as at Startup.
    /// In Initialize only the condition is recorded; Startup then enters Fault.
    /// </summary>
    public IReadOnlyList<VrrpAction> SetFault(MonotonicTime now, bool fault)
    {
        if (fault == _faulted)
            return NoActions;
        _faulted = fault;

        var actions = new List<VrrpAction>();
        if (fault && State is VrrpState.Backup or VrrpState.Master)
        {
            Leave(actions, VrrpState.Fault, "fault: node cannot serve");
            _preemptDelayDue = null;
        }
        else if (!fault && State == VrrpState.Fault)
        {
            Start(actions, now, "fault cleared");
        }

        return actions;
    }

    private IReadOnlyList<VrrpAction> BackupReceived(IPAddress source, byte priority, TimeSpan advertInterval, MonotonicTime now,
        MonotonicTime arrival)
    {
        if (priority == VrrpInstanceConfig.StopParticipatingPriority)
        {
            // The master resigned: take over after Skew_Time unless a better backup speaks first.
            _masterDownTimerDue = arrival + SkewTime;
            _masterResigned = true;
            CurrentMaster = null;
            return NoActions;
        }

        if (!_config.Preempt || priority >= _config.Priority || PreemptDelayRunning(now))
        {
            LearnMasterAdverInterval(advertInterval);
            _masterDownTimerDue = arrival + MasterDownInterval; _masterResigned = false;
            CurrentMaster = source;
        }

        // Otherwise a lower-priority master: discard, so Master_Down_Timer expires and we preempt.
        return NoActions;
    }

    private IReadOnlyList<VrrpAction> MasterReceived(IPAddress source, byte priority, TimeSpan advertInterval, MonotonicTime now,
        MonotonicTime arrival)
    {
        if (priority == VrrpInstanceConfig.StopParticipatingPriority)
        {
            // Another router resigned: assert ourselves at once so hosts keep our addresses.
            _adverTimerDue = now + _config.AdvertInterval;
            return [new VrrpAction.SendAdvertisement(_config.Priority)];
        }

        string reason;
        if (priority > _config.Priority)
            reason = $"higher priority advert from {source} (priority {priority} > {_config.Priority})";
        else if (priority == _config.Priority && CompareAddresses(source, _config.PrimaryAddress) > 0)
            reason = $"equal priority advert from higher address {source} (priority {priority})";
        else if (priority == _config.Priority && CompareAddresses(source, _config.PrimaryAddress) == 0)
            return NoActions; // our own advert, looped back
        else
        {
            // A lower router also acts as master (it took over while we were cut off or stalled, and hosts may
            // have followed its gratuitous ARP). RFC 5798 discards this advert; like keepalived we assert
            // ourselves at once, advert and announcement, so that router steps down and hosts come back. At most once
            // per advert interval: a real competing master speaks no more often than that, a flood gets no more.
            if (_nextLowerPriorityAnswer > now)
                return NoActions;
            _nextLowerPriorityAnswer = now + _config.AdvertInterval;
            _adverTimerDue = now + _config.AdvertInterval;
            return [new VrrpAction.SendAdvertisement(_config.Priority), new VrrpAction.AnnounceAddresses()];
        }

        _adverTimerDue = null;
        LearnMasterAdverInterval(advertInterval);
        _masterDownTimerDue = arrival + MasterDownInterval; _masterResigned = false;
        if (_preemptDelayDue <= now)
            _preemptDelayDue = null;
        var actions = new List<VrrpAction> { new VrrpAction.ReleaseAddresses() };
        Transition(actions, VrrpState.Backup, reason);
        CurrentMaster = source;
        return actions;
    }

    // Entering service from Initialize or Fault: RFC 6.4.1.
    private void Start(List<VrrpAction> actions, MonotonicTime now, string reason)
    {
        MasterAdverInterval = _config.AdvertInterval;
        _preemptDelayDue = _config.Preempt && _config.PreemptDelay > TimeSpan.Zero ? now + _config.PreemptDelay : null;
        if (_config.IsAddressOwner)
        {
            BecomeMaster(actions, now, $"{reason} as address owner (priority {VrrpInstanceConfig.AddressOwnerPriority})");
            return;
        }

        _masterDownTimerDue = now + MasterDownInterval; _masterResigned = false;
        CurrentMaster = null;
        Transition(actions, VrrpState.Backup, reason);
    }

    private void BecomeMaster(List<VrrpAction> actions, MonotonicTime now, string reason)
    {
        actions.Add(new VrrpAction.SendAdvertisement(_config.Priority));
        actions.Add(new VrrpAction.AcquireAddresses());
        _masterDownTimerDue = null; _masterResigned = false;
        _adverTimerDue = now + _config.AdvertInterval;
        MasterAdverInterval = _config.AdvertInterval; // we are the master now
        CurrentMaster = _config.PrimaryAddress;
        Transition(actions, VrrpState.Master, reason);
    }

    // Out of service (Initialize or Fault): a master resigns with priority 0 so a backup takes over after Skew_Time.
    private void Leave(List<VrrpAction> actions, VrrpState to, string reason)
    {
        if (State == VrrpState.Master)
        {
            actions.Add(new VrrpAction.SendAdvertisement(VrrpInstanceConfig.StopParticipatingPriority));
            actions.Add(new VrrpAction.ReleaseAddresses());
        }

        _adverTimerDue = null;
        _masterDownTimerDue = null; _masterResigned = false;
        CurrentMaster = null;
        Transition(actions, to, reason);
    }

    private void Transition(List<VrrpAction> actions, VrrpState to, string reason)
    {
        actions.Add(new VrrpAction.StateChanged(State, to, reason));
        State = to;
        Transitions++;
    }

    // v2 routers must share one configured interval (RFC 3768 section 7.1); only v3 learns it.
    private void LearnMasterAdverInterval(TimeSpan advertInterval)
    {
        if (_config.Version == VrrpVersion.V3)
            MasterAdverInterval = advertInterval;
    }

    private bool PreemptDelayRunning(MonotonicTime now) => _preemptDelayDue > now;

    private static MonotonicTime? Earliest(MonotonicTime? a, MonotonicTime? b) =>
        a is null ? b : b is null ? a : (a < b ? a : b);

    /// <summary>Compares two addresses of one family as unsigned big-endian numbers (RFC 5798 section 6.4.3).</summary>
    internal static int CompareAddresses(IPAddress left, IPAddress right)
    {
        if (left.AddressFamily != right.AddressFamily)
            throw new ArgumentException($"Cannot compare {left} with {right}: different address families.", nameof(right));

        Span<byte> leftBytes = stackalloc byte[16];
        Span<byte> rightBytes = stackalloc byte[16];
        left.TryWriteBytes(leftBytes, out var leftLength);
        right.TryWriteBytes(rightBytes, out var rightLength);
        return leftBytes[..leftLength].SequenceCompareTo(rightBytes[..rightLength]);
    }
}
