namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// What the I/O driver must do after a state machine event, in the order given.
/// The set is closed: only the nested records derive from it.
/// </summary>
public abstract record VrrpAction
{
    private VrrpAction()
    {
    }

    /// <summary>Send one advertisement with this priority (0 = we stop participating).</summary>
    public sealed record SendAdvertisement(byte Priority) : VrrpAction;

    /// <summary>Add the virtual addresses, then send gratuitous ARP (IPv4) / unsolicited NA (IPv6).</summary>
    public sealed record AcquireAddresses : VrrpAction;

    /// <summary>Send gratuitous ARP / unsolicited NA again for addresses already held (hosts may point elsewhere).</summary>
    public sealed record AnnounceAddresses : VrrpAction;

    /// <summary>Remove the virtual addresses.</summary>
    public sealed record ReleaseAddresses : VrrpAction;

    /// <summary>The state changed; worth one log line and a metric.</summary>
    public sealed record StateChanged(VrrpState From, VrrpState To, string Reason) : VrrpAction;
}
