using System.Net;

namespace NginxHa.Core.Resources;

/// <summary>
/// RFC 5798 section 5.2.9: in an IPv6 advert "the first address MUST be the link-local IPv6 address associated with
/// the virtual router". A list without one gets the virtual router's own link-local address added in front: the
/// modified EUI-64 address (RFC 4291 appendix A) of the virtual router MAC 00-00-5E-00-02-{VRID} (RFC 5798 section
/// 7.3), so every node of the instance derives the same address from the VRID alone. A list that has one elsewhere
/// gets it moved to the front. Unicast instances are left as they are (keepalived checks only multicast ones).
/// </summary>
public static class VirtualRouterLinkLocal
{
    /// <summary>The prefix the added address is bound with (the link-local prefix, RFC 4291 section 2.5.6).</summary>
    public const int PrefixLength = 64;

    /// <summary>fe80::200:5eff:fe00:2XX for VRID XX.</summary>
    public static IPAddress For(byte virtualRouterId) =>
        new([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x5e, 0xff, 0xfe, 0x00, 0x02, virtualRouterId]);

    /// <summary>True for an address <see cref="For"/> gives for some VRID.</summary>
    public static bool IsDerived(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return false;
        var bytes = address.GetAddressBytes();
        return bytes.AsSpan(0, 15).SequenceEqual(For(0).GetAddressBytes().AsSpan(0, 15)) && bytes[15] != 0;
    }

    /// <summary>
    /// The list as an IPv6 VRRPv3 multicast advert must carry it: a link-local address first. IPv4 lists and unicast
    /// instances come back unchanged.
    /// </summary>
    public static IReadOnlyList<VirtualIp> Complete(IReadOnlyList<VirtualIp> vips, byte virtualRouterId, bool unicast)
    {
        ArgumentNullException.ThrowIfNull(vips);
        if (unicast || vips.Count == 0 || !vips[0].IsIPv6 || vips[0].Address.IsIPv6LinkLocal) return vips;
        var linkLocal = vips.Select((vip, index) => (vip, index)).FirstOrDefault(v => v.vip.Address.IsIPv6LinkLocal);
        if (linkLocal.vip.Address is not null)
            return [linkLocal.vip, .. vips.Where((_, index) => index != linkLocal.index)];
        return [new VirtualIp(For(virtualRouterId), PrefixLength), .. vips];
    }

    /// <summary>True when <see cref="Complete"/> adds an address to this list (so the count limit is one lower).</summary>
    public static bool AddsAddress(IReadOnlyList<VirtualIp> vips, bool unicast) =>
        !unicast && vips.Count > 0 && vips[0].IsIPv6 && !vips.Any(v => v.Address.IsIPv6LinkLocal);
}
