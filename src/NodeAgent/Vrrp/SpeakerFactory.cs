using System.Net.Sockets;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>A speaker cannot be set up on this host: which instance, which setting, and why.</summary>
public sealed class SpeakerSetupException(string instance, string field, string reason) : Exception($"{instance}: {field}: {reason}")
{
    public string Field { get; } = field;
    public string Reason { get; } = reason;
}

/// <summary>A speaker wired to the real network edges, running until stopped.</summary>
public sealed class RunningSpeaker : IAsyncDisposable
{
    readonly CancellationTokenSource _stop = new();
    readonly BuiltSpeaker _built;

    internal RunningSpeaker(BuiltSpeaker built, ShutdownLatch? shutdown)
    {
        _built = built;
        Completion = Task.Run(() => built.Speaker.RunAsync(_stop.Token, shutdown));
    }

    public InstancePlan Plan => _built.Plan;
    public VrrpSpeaker Speaker => _built.Speaker;
    public Task Completion { get; }

    /// <summary>Hands over (priority 0 while MASTER), removes the VIPs and closes the sockets.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await Completion.ConfigureAwait(false);
        }
        finally
        {
            _built.Dispose();
            _stop.Dispose();
        }
    }
}

/// <summary>A speaker on the host's real sockets, not yet running; disposing it closes the sockets.</summary>
public sealed class BuiltSpeaker(InstancePlan plan, VrrpSpeaker speaker, IDisposable[] resources) : IDisposable
{
    public InstancePlan Plan { get; } = plan;
    public VrrpSpeaker Speaker { get; } = speaker;

    public void Dispose()
    {
        foreach (var r in resources) r.Dispose();
    }
}

/// <summary>Builds speakers on the host's real interfaces: raw socket, netlink, AF_PACKET announcements.</summary>
public static class SpeakerFactory
{
    /// <summary>
    /// Opens the sockets and starts the speaker on its own thread; <paramref name="fault"/> starts it in FAULT. When
    /// <paramref name="shutdown"/> is set (SIGTERM), the speaker hands over at once, before it is disposed.
    /// </summary>
    public static RunningSpeaker Start(InstancePlan plan, bool fault, TimeProvider time, Action<string> log, ShutdownLatch? shutdown = null,
        IVrrpSpeakerObserver? observer = null, HeardRouters? heard = null, VrrpSockets? sockets = null) =>
        new(Build(plan, fault, time, log, observer, heard, sockets), shutdown);

    /// <summary>The speaker's options for a plan, with adverts sent from <paramref name="source"/>.</summary>
    public static VrrpSpeakerOptions OptionsFor(InstancePlan plan, System.Net.IPAddress source) =>
        new(plan.Name, new VrrpInstanceConfig(plan.Version, plan.VirtualRouterId, plan.Priority, plan.AdvertInterval, source,
                plan.Preempt, plan.PreemptDelay),
            plan.VirtualAddresses, plan.AuthData, plan.GratuitousRepeat,
            plan.GratuitousInterval ?? InstancePlan.DefaultGratuitousInterval, plan.GratuitousRefresh);

    /// <summary>
    /// Opens the sockets and builds the speaker without running it; disposing the result closes them. The raw VRRP socket
    /// is shared through <paramref name="sockets"/> with the other speakers on the interface (a private one when null).
    /// </summary>
    public static BuiltSpeaker Build(InstancePlan plan, bool fault, TimeProvider time, Action<string> log, IVrrpSpeakerObserver? observer = null,
        HeardRouters? heard = null, VrrpSockets? sockets = null)
    {
        NetworkInterfaceInfo iface;
        try
        {
            iface = NetworkInterfaces.Get(plan.Interface);
        }
        catch (ArgumentException ex)
        {
            throw new SpeakerSetupException(plan.Name, "interface", ex.Message.Replace($" (Parameter '{ex.ParamName}')", ""));
        }
        var family = plan.VirtualAddresses[0].Address.AddressFamily;
        var source = family == AddressFamily.InterNetwork ? iface.PrimaryIPv4 : iface.LinkLocalIPv6;
        if (source is null)
            throw new SpeakerSetupException(plan.Name, "interface", $"\"{iface.Name}\" has no " +
                (family == AddressFamily.InterNetwork ? "IPv4 address" : "IPv6 link-local address") + " to send adverts from");

        var options = OptionsFor(plan, source);

        var resources = new List<IDisposable>();
        try
        {
            IVrrpTransport transport;
            try
            {
                transport = (sockets ?? new VrrpSockets(heard, log)).Attach(iface, family, plan.UnicastPeers, plan.VirtualRouterId, plan.Name);
            }
            catch (InvalidOperationException ex)
            {
                throw new SpeakerSetupException(plan.Name, "virtualRouterId", ex.Message);
            }
            resources.Add(transport);
            var addresses = new NetlinkVirtualAddressTable(iface.Index);
            resources.Add(addresses);
            var announcer = new GratuitousAnnouncerAdapter(new GratuitousAnnouncer(iface));
            resources.Add(announcer);
            var link = new NetlinkLinkWatcher(iface.Index, iface.HasCarrier);
            resources.Add(link);
            var speaker = new VrrpSpeaker(options, transport, addresses, announcer, time, log, link, observer);
            if (fault) speaker.SetFault(true);
            log($"{plan.Name}: starting VRRPv{(int)plan.Version} vrid {plan.VirtualRouterId} on {iface.Name} from {source}, " +
                $"priority {plan.Priority}, advert interval {plan.AdvertInterval.TotalMilliseconds}ms, " +
                $"VIPs {string.Join(" ", plan.VirtualAddresses)}" +
                (plan.UnicastPeers.Count > 0 ? $", unicast peers {string.Join(" ", plan.UnicastPeers)}" : ", multicast"));
            return new BuiltSpeaker(plan, speaker, resources.ToArray());
        }
        catch
        {
            foreach (var r in resources) r.Dispose();
            throw;
        }
    }
}
