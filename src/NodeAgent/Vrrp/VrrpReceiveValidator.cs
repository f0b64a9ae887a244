using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// What a virtual router accepts. <see cref="AuthData"/> is the v2 simple-text field (see
/// <see cref="VrrpSimplePassword.ToAuthData"/>); shorter values are compared zero padded.
/// </summary>
/// <param name="LocalIsAddressOwner">True when the local router runs this VRID with priority 255.</param>
/// <param name="PreviousAddresses">
/// The list before VIPs were added in place: a peer that has not taken the same change yet still advertises it,
/// and dropping its adverts would make us a second master.
/// </param>
public sealed record VrrpReceiveRules(
    VrrpVersion Version,
    byte VirtualRouterId,
    IReadOnlyList<IPAddress> VirtualAddresses,
    TimeSpan AdvertInterval,
    VrrpAuthType AuthType,
    ReadOnlyMemory<byte> AuthData,
    bool LocalIsAddressOwner = false,
    IReadOnlyList<IPAddress>? PreviousAddresses = null);

/// <summary>
/// Receive checks of RFC 5798 section 7.1 and RFC 3768 section 7.1 that depend on local
/// configuration; run after <see cref="VrrpPacket.TryRead"/> accepted the message structure.
/// </summary>
public static class VrrpReceiveValidator
{
    public static VrrpDropReason Validate(VrrpAdvertisement advert, int ttlOrHopLimit, VrrpReceiveRules rules)
    {
        ArgumentNullException.ThrowIfNull(advert);
        ArgumentNullException.ThrowIfNull(rules);

        // Only a packet from the link itself arrives with 255 (RFC 5798 section 5.1.1.3).
        if (ttlOrHopLimit != VrrpPacket.RequiredTtl)
        {
            return VrrpDropReason.BadTtl;
        }
        if (advert.Version != rules.Version)
        {
            return VrrpDropReason.VersionMismatch;
        }
        if (advert.VirtualRouterId != rules.VirtualRouterId)
        {
            return VrrpDropReason.UnknownVirtualRouterId;
        }
        if (rules.LocalIsAddressOwner)
        {
            return VrrpDropReason.LocalRouterIsAddressOwner;
        }

        if (rules.Version == VrrpVersion.V2)
        {
            if (advert.AuthType != rules.AuthType)
            {
                return VrrpDropReason.AuthTypeMismatch;
            }
            if (!Authenticates(advert, rules))
            {
                return VrrpDropReason.AuthenticationFailed;
            }
        }

        // RFC 5798 lets an address owner (priority 255) through with a differing list; like keepalived we drop a
        // list that leaves out one of our addresses, so a misconfigured peer never takes them. Two lists are let
        // through, because VIPs are added in place: a list with every address of ours and more (the sender took the
        // change first), and our list from before the change (we took it first).
        if (advert.Addresses.Count > 0 && rules.VirtualAddresses.Count > 0
            && Family(advert.Addresses[0]) != Family(rules.VirtualAddresses[0]))
        {
            return VrrpDropReason.AddressFamilyMismatch;
        }
        if (!ListsCurrentAddresses(advert, rules) && !Contains(advert.Addresses, rules.VirtualAddresses)
            && !(rules.PreviousAddresses is { } previous && SameAddressesInAnyOrder(advert.Addresses, previous)))
        {
            return advert.Addresses.Count < rules.VirtualAddresses.Count
                ? VrrpDropReason.AddressCountMismatch
                : VrrpDropReason.AddressListMismatch;
        }

        // v2 requires equal intervals (RFC 3768 section 7.1); a v3 backup learns the master's instead.
        if (rules.Version == VrrpVersion.V2 && advert.AdvertInterval != rules.AdvertInterval)
        {
            return VrrpDropReason.AdvertIntervalMismatch;
        }
        return VrrpDropReason.Ok;
    }

    private static bool Authenticates(VrrpAdvertisement advert, VrrpReceiveRules rules)
    {
        switch (rules.AuthType)
        {
            case VrrpAuthType.None:
                return true;
            case VrrpAuthType.SimpleText:
                if (rules.AuthData.Length > VrrpPacket.AuthDataLength)
                {
                    return false;
                }
                Span<byte> expected = stackalloc byte[VrrpPacket.AuthDataLength];
                expected.Clear();
                rules.AuthData.Span.CopyTo(expected);
                // Constant time so response timing reveals nothing about the password.
                return CryptographicOperations.FixedTimeEquals(advert.AuthData.Span, expected);
            default:
                // IPsec AH is not implemented here: fail closed rather than accept unverified adverts.
                return false;
        }
    }

    /// <summary>The advert lists exactly our current virtual addresses (in any order).</summary>
    public static bool ListsCurrentAddresses(VrrpAdvertisement advert, VrrpReceiveRules rules) =>
        SameAddressesInAnyOrder(advert.Addresses, rules.VirtualAddresses);

    // Every configured address appears among the received ones, each matched to a distinct one.
    private static bool Contains(IReadOnlyList<IPAddress> received, IReadOnlyList<IPAddress> configured) =>
        received.Count > configured.Count && configured.All(c => received.Count(r => SameAddress(r, c)) == 1)
        && received.Distinct().Count() == received.Count;

    private static bool SameAddressesInAnyOrder(IReadOnlyList<IPAddress> received, IReadOnlyList<IPAddress> configured)
    {
        if (received.Count != configured.Count)
        {
            return false;
        }
        // Match each received address to a distinct configured one.
        Span<bool> used = configured.Count <= 256 ? stackalloc bool[configured.Count] : new bool[configured.Count];
        for (int r = 0; r < received.Count; r++)
        {
            int match = -1;
            for (int i = 0; i < configured.Count; i++)
            {
                if (!used[i] && SameAddress(received[r], configured[i]))
                {
                    match = i;
                    break;
                }
            }
            if (match < 0)
            {
                return false;
            }
            used[match] = true;
        }
        return true;
    }

    // Compares the address bytes only: a configured link-local VIP may carry a scope id, the wire never does.
    private static bool SameAddress(IPAddress left, IPAddress right)
    {
        if (left is null || right is null || Family(left) != Family(right))
        {
            return false;
        }
        Span<byte> leftBytes = stackalloc byte[16];
        Span<byte> rightBytes = stackalloc byte[16];
        Normalize(left).TryWriteBytes(leftBytes, out int leftLength);
        Normalize(right).TryWriteBytes(rightBytes, out int rightLength);
        return leftBytes[..leftLength].SequenceEqual(rightBytes[..rightLength]);
    }

    private static AddressFamily Family(IPAddress? address) =>
        address is null ? AddressFamily.Unknown : Normalize(address).AddressFamily;

    private static IPAddress Normalize(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
