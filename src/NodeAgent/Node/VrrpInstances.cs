using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Node;

/// <summary>One running VRRP instance as the reconciler drives it.</summary>
public interface IVrrpInstance : IAsyncDisposable
{
    InstancePlan Plan { get; }

    VrrpState State { get; }

    /// <summary>The router currently MASTER (our own address while we are), null when none is known.</summary>
    System.Net.IPAddress? CurrentMaster { get; }

    long Transitions { get; }

    /// <summary>Raised (on the instance's own thread) after every state change.</summary>
    event Action<VrrpState, VrrpState>? StateChanged;

    /// <summary>Completes when the instance stops; faulted if it died.</summary>
    Task Completion { get; }

    /// <summary>The node cannot serve (true) or serves again (false).</summary>
    void SetFault(bool fault);

    /// <summary>Applies a plan that <see cref="InstanceChanges.Classify"/> found changeable in place.</summary>
    void Update(InstancePlan plan);

    /// <summary>Completes once the instance's loop has handled what was posted before and waits for more: it still acts.
    /// Never completes while the loop hangs.</summary>
    Task IdleAsync();
}

/// <summary>Starts VRRP instances on this host.</summary>
public interface IVrrpInstanceHost
{
    /// <summary>Starts an instance, in FAULT from its first moment when <paramref name="fault"/>.</summary>
    /// <exception cref="SpeakerSetupException">The host cannot run it (interface, addresses, sockets).</exception>
    IVrrpInstance Start(InstancePlan plan, bool fault);
}

/// <summary>Production: speakers on the host's real sockets (<see cref="SpeakerFactory"/>).</summary>
/// <paramref name="heard"/>: where speakers record the routers they hear (for VRID allocation);
/// <paramref name="handover"/>: the watchdog's record of what runs.
public sealed class SpeakerInstanceHost(TimeProvider time, Action<string> log, ShutdownLatch? shutdown = null,
    Metrics.AgentMetrics? metrics = null, HeardRouters? heard = null, Watchdog.HandoverBook? handover = null,
    Cli.LineLog? lineLog = null) : IVrrpInstanceHost
{
    // One raw socket per interface and family for all instances (each advert read once, handed to its VRID's speaker).
    readonly Network.VrrpSockets _sockets = new(heard, log);

    public IVrrpInstance Start(InstancePlan plan, bool fault)
    {
        var observer = Metrics.VrrpInstanceMetrics.For(plan, time);
        handover?.Set(plan);
        // With the command's log, the speaker's lines carry its instance, VRID and VIPs (and from/to/reason on transitions).
        var speakerLog = lineLog?.ForInstance(plan);
        RunningSpeaker running;
        try
        {
            running = SpeakerFactory.Start(plan, fault, time, speakerLog is null ? log : speakerLog.Write, shutdown,
                speakerLog is null ? observer : new SpeakerObservers(observer, speakerLog), heard, _sockets);
        }
        catch
        {
            handover?.Remove(plan.Name);
            throw;
        }
        return new SpeakerInstance(running, observer, metrics?.Register(observer), handover);
    }

    sealed class SpeakerInstance(RunningSpeaker running, Metrics.VrrpInstanceMetrics observer, IDisposable? registration,
        Watchdog.HandoverBook? handover) : IVrrpInstance
    {
        InstancePlan _plan = running.Plan;

        public InstancePlan Plan => _plan;
        public VrrpState State => running.Speaker.State;
        public System.Net.IPAddress? CurrentMaster => running.Speaker.CurrentMaster;
        public long Transitions => running.Speaker.Transitions;
        public Task Completion => running.Completion;

        public event Action<VrrpState, VrrpState>? StateChanged
        {
            add => running.Speaker.StateChanged += value;
            remove => running.Speaker.StateChanged -= value;
        }

        public void SetFault(bool fault) => running.Speaker.SetFault(fault);

        public Task IdleAsync() => running.Speaker.IdleAsync();

        public void Update(InstancePlan plan)
        {
            running.Speaker.Reconfigure(SpeakerFactory.OptionsFor(plan, running.Speaker.Options.Instance.PrimaryAddress));
            observer.Reconfigured(plan.Priority, plan.AdvertInterval);
            handover?.Set(plan);
            _plan = plan;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await running.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                registration?.Dispose();
                handover?.Remove(_plan.Name);
            }
        }
    }
}

/// <summary>How a running instance must change to match a new plan.</summary>
public enum InstanceChange
{
    None,

    /// <summary>
    /// RFC 5798 lets a router change these while it runs: priority, advert interval, preempt (and its delay), added VIPs.
    /// A master keeps its VIPs through them.
    /// </summary>
    InPlace,

    /// <summary>Anything else (interface, VRID, version, removed VIPs, peers, password, address owner): stop, hand over, start.</summary>
    Restart,
}

public static class InstanceChanges
{
    public static InstanceChange Classify(InstancePlan running, InstancePlan wanted)
    {
        bool sameIdentity = running.Name == wanted.Name && running.Interface == wanted.Interface && running.Version == wanted.Version
            && running.VirtualRouterId == wanted.VirtualRouterId && running.UnicastPeers.SequenceEqual(wanted.UnicastPeers)
            && running.AuthData.Span.SequenceEqual(wanted.AuthData.Span)
            && running.GratuitousRepeat == wanted.GratuitousRepeat && running.GratuitousInterval == wanted.GratuitousInterval
            && running.GratuitousRefresh == wanted.GratuitousRefresh
            // An address owner (255) takes over at once and never defers: entering or leaving that role is a restart.
            && (running.Priority == Vrrp.VrrpInstanceConfig.AddressOwnerPriority) == (wanted.Priority == Vrrp.VrrpInstanceConfig.AddressOwnerPriority)
            && wanted.VirtualAddresses[0].Address.AddressFamily == running.VirtualAddresses[0].Address.AddressFamily;
        if (!sameIdentity) return InstanceChange.Restart;
        // Every running VIP kept (with its prefix), in its order; new ones only appended.
        if (wanted.VirtualAddresses.Count < running.VirtualAddresses.Count
            || !wanted.VirtualAddresses.Take(running.VirtualAddresses.Count).SequenceEqual(running.VirtualAddresses))
            return InstanceChange.Restart;
        bool same = wanted.VirtualAddresses.Count == running.VirtualAddresses.Count && running.Priority == wanted.Priority
            && running.AdvertInterval == wanted.AdvertInterval && running.Preempt == wanted.Preempt && running.PreemptDelay == wanted.PreemptDelay;
        return same ? InstanceChange.None : InstanceChange.InPlace;
    }
}

public static class VrrpStateNames
{
    public static VrrpInstanceState ToStatus(this VrrpState state) => state switch
    {
        VrrpState.Backup => VrrpInstanceState.Backup,
        VrrpState.Master => VrrpInstanceState.Master,
        VrrpState.Fault => VrrpInstanceState.Fault,
        _ => VrrpInstanceState.Initialize,
    };
}
