using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network.Netlink;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// An interface as the VRRP speaker needs it. <see cref="LinkLocalIPv6"/> carries the interface index
/// as its scope id, ready for socket calls. <see cref="HasCarrier"/>: up with carrier when it was looked up.
/// </summary>
public sealed record NetworkInterfaceInfo(string Name, int Index, PhysicalAddress MacAddress, IPAddress? PrimaryIPv4, IPAddress? LinkLocalIPv6,
    bool HasCarrier = true);

/// <summary>Looks interfaces up through netlink, in the network namespace of the calling thread.</summary>
public static class NetworkInterfaces
{
    private const int ENODEV = 19;

    /// <summary>
    /// The interface called <paramref name="name"/>. PrimaryIPv4 is its first primary (non-secondary)
    /// IPv4 address that is not one of our VIPs; LinkLocalIPv6 its first usable fe80::/10 address.
    /// </summary>
    /// <exception cref="ArgumentException">no such interface, or it has neither address.</exception>
    public static NetworkInterfaceInfo Get(string name)
    {
        ValidateName(name);
        using var netlink = new NetlinkSocket();
        Span<byte> request = stackalloc byte[LinkMessage.MaxRequestSize];
        uint sequence = netlink.NextSequence();
        int length = LinkMessage.WriteGetByName(request, name, sequence);
        var replies = netlink.Query(request[..length], sequence, NetlinkHeader.RTM_NEWLINK, out int errno, out _);
        if (errno == ENODEV || (errno == 0 && replies.Count == 0))
            throw new ArgumentException($"interface \"{name}\" not found", nameof(name));
        if (errno != 0)
            throw new NetlinkException(errno, $"looking up interface \"{name}\"");
        if (!LinkMessage.TryRead(replies[0], out LinkMessage link, out string? error))
            throw new InvalidDataException($"interface \"{name}\": {error}");

        var addresses = NetlinkAddressManager.ListAddresses(netlink, link.InterfaceIndex);
        IPAddress? primaryIPv4 = addresses
            .FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetwork && !a.IsOwned && !a.Flags.HasFlag(AddressFlags.Secondary))
            ?.Address;
        IPAddress? linkLocal = addresses
            .FirstOrDefault(a => a.Address.IsIPv6LinkLocal && (a.Flags & (AddressFlags.Tentative | AddressFlags.DadFailed)) == 0)
            ?.Address;
        if (primaryIPv4 is null && linkLocal is null)
            throw new ArgumentException($"interface \"{name}\" has no usable address (no primary IPv4, no IPv6 link-local)", nameof(name));
        if (linkLocal is not null)
            linkLocal = new IPAddress(linkLocal.GetAddressBytes(), link.InterfaceIndex);
        return new NetworkInterfaceInfo(link.Name, link.InterfaceIndex, link.HardwareAddress, primaryIPv4, linkLocal, link.IsOperational);
    }

    private static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > LinkMessage.MaxNameLength)
            throw new ArgumentException($"interface name \"{name}\" must be 1..{LinkMessage.MaxNameLength} characters", nameof(name));
        foreach (char c in name)
        {
            if (c <= ' ' || c > '~' || c is '/' or ':')
                throw new ArgumentException($"interface name \"{name}\" contains '{c}', which Linux does not allow", nameof(name));
        }
    }
}
