using System.Net;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>How a wire conflict on our VRID differs from us (the vrid_conflicts label).</summary>
public enum VridConflictKind
{
    VipSet,
    Version,
    Auth,
}

/// <summary>
/// One VRRP instance's counters and gauges, fed by its speaker (<see cref="IVrrpSpeakerObserver"/>, on the speaker's
/// thread) and read by <see cref="AgentMetrics"/> at scrape time (any thread). Only counts: no I/O, no allocation per advert.
/// </summary>
public sealed class VrrpInstanceMetrics : IVrrpSpeakerObserver
{
    /// <summary>At most this many peers are tracked per instance: label values stay bounded whatever is on the wire.</summary>
    public const int MaxPeers = 8;

    readonly TimeProvider _time;
    volatile VrrpTimers _timers;
    readonly long[] _drops = new long[(int)VrrpDropReasonExtensions.MaxValue + 1];
    readonly long[] _conflicts = new long[3];
    readonly Dictionary<(VrrpState From, VrrpState To, string Reason), long> _transitions = new();
    readonly Dictionary<IPAddress, (byte Priority, MonotonicTime Seen)> _peers = new();
    int _state;
    // Monotonic (MonotonicTime.Ticks): ages and expiries do not jump with the wall clock.
    long _lastTransitionTicks;
    long _advertsSent, _advertsReceived, _announcements, _splitBrainSeen;
    int _vipsBound;

    public VrrpInstanceMetrics(string name, string interfaceName, byte vrid, VrrpVersion version, byte priority, TimeSpan advertInterval,
        TimeProvider time)
    {
        Name = name;
        Interface = interfaceName;
        VirtualRouterId = vrid;
        Version = version;
        _time = time;
        _timers = new VrrpTimers(priority, advertInterval);
        _lastTransitionTicks = MonotonicTime.Now(time).Ticks;
        foreach (var t in TransitionReasons.Possible) _transitions[t] = 0;
    }

    public static VrrpInstanceMetrics For(InstancePlan plan, TimeProvider time) =>
        new(plan.Name, plan.Interface, plan.VirtualRouterId, plan.Version, plan.Priority, plan.AdvertInterval, time);

    public string Name { get; }
    public string Interface { get; }
    public byte VirtualRouterId { get; }
    public VrrpVersion Version { get; }

    public VrrpState State => (VrrpState)Volatile.Read(ref _state);

    /// <summary>The priority this router advertises now: the configured one while it takes part, 0 in FAULT or stopped.</summary>
    public int EffectivePriority => State is VrrpState.Master or VrrpState.Backup ? _timers.Priority : 0;

    /// <summary>The instance was changed in place (priority, advert interval) without a restart.</summary>
    public void Reconfigured(byte priority, TimeSpan advertInterval) => _timers = new VrrpTimers(priority, advertInterval);

    sealed record VrrpTimers(byte Priority, TimeSpan AdvertInterval)
    {
        // A peer not heard for a master-down interval (with slack for a scrape) is gone.
        public TimeSpan PeerExpiry { get; } = 3 * AdvertInterval + TimeSpan.FromSeconds(1);
    }

    public TimeSpan SinceLastTransition => MonotonicTime.Now(_time) - new MonotonicTime(Interlocked.Read(ref _lastTransitionTicks));
    public long AdvertsSent => Interlocked.Read(ref _advertsSent);
    public long AdvertsReceived => Interlocked.Read(ref _advertsReceived);
    public long Announcements => Interlocked.Read(ref _announcements);
    public long SplitBrainSeen => Interlocked.Read(ref _splitBrainSeen);
    public int VipsBound => Volatile.Read(ref _vipsBound);
    public long Dropped(VrrpDropReason reason) => Interlocked.Read(ref _drops[(int)reason]);
    public long Conflicts(VridConflictKind kind) => Interlocked.Read(ref _conflicts[(int)kind]);

    public IReadOnlyList<KeyValuePair<(VrrpState From, VrrpState To, string Reason), long>> Transitions()
    {
        lock (_transitions) return _transitions.ToArray();
    }

    /// <summary>Routers of this virtual router heard within the last master-down interval, with their last priority.</summary>
    public IReadOnlyList<(IPAddress Address, byte Priority)> Peers()
    {
        var now = MonotonicTime.Now(_time);
        lock (_peers)
        {
            foreach (var gone in _peers.Where(p => now - p.Value.Seen > _timers.PeerExpiry).Select(p => p.Key).ToArray())
                _peers.Remove(gone);
            return _peers.OrderBy(p => p.Key.ToString(), StringComparer.Ordinal).Select(p => (p.Key, p.Value.Priority)).ToArray();
        }
    }

    /// <summary>The current master as this router sees it: itself, the peer it heard last with a non-zero priority, or null.</summary>
    public IPAddress? Master { get; private set; }

    public void StateChanged(VrrpState from, VrrpState to, string reason)
    {
        Volatile.Write(ref _state, (int)to);
        Interlocked.Exchange(ref _lastTransitionTicks, MonotonicTime.Now(_time).Ticks);
        var key = (from, to, TransitionReasons.Classify(reason));
        lock (_transitions) _transitions[key] = _transitions.GetValueOrDefault(key) + 1;
        if (to != VrrpState.Backup) Master = null;
    }

    public void AdvertSent(byte priority) => Interlocked.Increment(ref _advertsSent);

    public void AdvertAccepted(IPAddress source, byte priority, VrrpState before, VrrpState after)
    {
        Interlocked.Increment(ref _advertsReceived);
        // Another router's adverts while we stay MASTER: two masters for one VRID (a heal after a cut, or a stalled peer).
        if (before == VrrpState.Master && after == VrrpState.Master && priority != VrrpInstanceConfig.StopParticipatingPriority)
            Interlocked.Increment(ref _splitBrainSeen);
        if (after == VrrpState.Backup) Master = priority == VrrpInstanceConfig.StopParticipatingPriority ? null : source;
        var now = MonotonicTime.Now(_time);
        lock (_peers)
        {
            if (_peers.ContainsKey(source) || _peers.Count < MaxPeers)
                _peers[source] = (priority, now);
        }
    }

    public void AdvertDropped(VrrpDropReason reason, IPAddress source, VrrpAdvertisement? advert)
    {
        if (reason is <= VrrpDropReason.Ok or > VrrpDropReasonExtensions.MaxValue) return;
        Interlocked.Increment(ref _drops[(int)reason]);
        if (advert is null || advert.VirtualRouterId != VirtualRouterId) return;
        VridConflictKind? kind = reason switch
        {
            VrrpDropReason.VersionMismatch => VridConflictKind.Version,
            VrrpDropReason.AddressCountMismatch or VrrpDropReason.AddressListMismatch => VridConflictKind.VipSet,
            VrrpDropReason.AuthTypeMismatch or VrrpDropReason.AuthenticationFailed => VridConflictKind.Auth,
            _ => null,
        };
        if (kind is { } k) Interlocked.Increment(ref _conflicts[(int)k]);
    }

    public void AddressesBound(int count)
    {
        Volatile.Write(ref _vipsBound, count);
        if (count > 0) Master = null;
    }

    public void Announced(int count) => Interlocked.Add(ref _announcements, count);
}
