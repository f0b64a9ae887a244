using System.Net;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Network;
using CoreInstance = NginxHa.Core.Resources.VrrpInstanceConfig;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// One planned VRRP instance translated into what a speaker needs on this host. Pure: the interface is
/// chosen from the addresses passed in; the password comes resolved by the config source.
/// </summary>
public sealed record InstancePlan(
    string Name,
    string Interface,
    VrrpVersion Version,
    byte VirtualRouterId,
    byte Priority,
    TimeSpan AdvertInterval,
    bool Preempt,
    TimeSpan PreemptDelay,
    IReadOnlyList<VirtualIp> VirtualAddresses,
    IReadOnlyList<IPAddress> UnicastPeers,
    ReadOnlyMemory<byte> AuthData,
    int GratuitousRepeat = InstancePlan.DefaultGratuitousRepeat,
    TimeSpan? GratuitousInterval = null,
    TimeSpan GratuitousRefresh = default)
{
    // As keepalived: five gratuitous ARPs / NAs on becoming MASTER (we send them 10 ms apart).
    public const int DefaultGratuitousRepeat = 5;
    public static readonly TimeSpan DefaultGratuitousInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>The advert's address count is one byte (RFC 5798 section 5.2.6, RFC 3768 section 5.3.5).</summary>
    public const int MaxAddresses = 255;

    /// <summary>
    /// Translates a NodeHaConfig instance; <paramref name="authData"/> is its resolved password (empty: none). A problem
    /// is returned as a message naming the field.
    /// </summary>
    public static InstancePlan? From(CoreInstance instance, ReadOnlyMemory<byte> authData, IEnumerable<ConfiguredAddress> hostAddresses,
        out string? problem)
    {
        problem = null;
        string Fail(string field, string message) => $"{instance.Name}: {field}: {message}";

        var vips = new List<VirtualIp>();
        foreach (var text in instance.VirtualIPs)
        {
            if (!VirtualIp.TryParse(text, out var vip, out var reason))
            {
                problem = Fail("virtualIPs", reason);
                return null;
            }
            vips.Add(vip);
        }
        if (vips.Count == 0)
        {
            problem = Fail("virtualIPs", "no virtual address");
            return null;
        }
        var unicast = instance.UnicastPeers.Count > 0;
        var carried = vips.Count + (VirtualRouterLinkLocal.AddsAddress(vips, unicast) ? 1 : 0);
        if (carried > MaxAddresses)
        {
            problem = Fail("virtualIPs", $"{vips.Count} addresses" + (carried > vips.Count ? " and the added link-local one" : "") +
                $", but one VRRP advert carries at most {MaxAddresses}");
            return null;
        }
        if (!Duration.TryParse(instance.AdvertisementInterval, out var interval, out var intervalProblem))
        {
            problem = Fail("advertisementInterval", intervalProblem);
            return null;
        }
        if (!Duration.TryParse(instance.PreemptDelay, out var preemptDelay, out var delayProblem))
        {
            problem = Fail("preemptDelay", delayProblem);
            return null;
        }
        if (authData.IsEmpty && (instance.AuthSecretRef is not null || instance.AuthPasswordFile is not null))
        {
            problem = Fail(instance.AuthSecretRef is not null ? "authSecretRef" : "authPasswordFile", "the password was not resolved by the config source");
            return null;
        }
        var peers = new List<IPAddress>();
        foreach (var peer in instance.UnicastPeers)
        {
            if (!IPAddress.TryParse(peer, out var address))
            {
                problem = Fail("unicastPeers", $"\"{peer}\" is not an IP address");
                return null;
            }
            peers.Add(address);
        }

        var iface = instance.Interface;
        if (string.IsNullOrEmpty(iface))
        {
            // A link-local VIP names no subnet: the first routable one picks the interface.
            var routable = vips.FirstOrDefault(v => !v.Address.IsIPv6LinkLocal, vips[0]);
            iface = InterfaceSelector.Select(routable.Address, hostAddresses, out var reason);
            if (iface is null)
            {
                problem = Fail("interface", reason!);
                return null;
            }
        }

        return new InstancePlan(instance.Name, iface, instance.Version == 2 ? VrrpVersion.V2 : VrrpVersion.V3,
            (byte)instance.VirtualRouterId, (byte)instance.Priority, interval, instance.Preempt, preemptDelay,
            VirtualRouterLinkLocal.Complete(vips, (byte)instance.VirtualRouterId, unicast), peers, authData);
    }
}
