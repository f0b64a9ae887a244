using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network.Netlink;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// Adds, removes and lists interface addresses through NETLINK_ROUTE in the network namespace of the
/// thread that constructed it. Every address it adds is tagged with <see cref="OwnedProtocol"/> so a
/// restarted agent can find and remove what a crashed run left behind (<see cref="RemoveOwned"/>).
/// Thread-safe.
/// </summary>
public sealed class NetlinkAddressManager : IDisposable
{
    /// <summary>
    /// IFA_PROTO value on our VIPs. 0x70 = 112, VRRP's IP protocol number: easy to recognise in
    /// `ip addr` ("proto 0x70"), clear of the kernel's own values (0-3, IFAPROT_*) and of the
    /// routing-protocol numbers other daemons reuse. Kernels before 5.18 ignore IFA_PROTO, so there
    /// leftovers cannot be told apart and <see cref="RemoveOwned"/> finds nothing.
    /// </summary>
    public const byte OwnedProtocol = 0x70;

    private const int EEXIST = 17;
    private const int ENOENT = 2;
    private const int EADDRNOTAVAIL = 99;
    private const int MaxDumpAttempts = 5;

    private readonly NetlinkSocket _netlink;

    public NetlinkAddressManager() => _netlink = new NetlinkSocket();

    /// <summary>Adds the address; already present is fine. IPv6 gets IFA_F_NODAD so it is usable at once.</summary>
    public void Add(int ifIndex, IPAddress address, int prefixLength)
    {
        var message = Describe(ifIndex, address, prefixLength);
        int errno = Send(message, NetlinkHeader.RTM_NEWADDR, NetlinkHeader.NLM_F_CREATE | NetlinkHeader.NLM_F_EXCL);
        if (errno is not (0 or EEXIST))
            throw new NetlinkException(errno, $"adding {address}/{prefixLength} to interface {ifIndex}");
    }

    /// <summary>Removes the address; already absent is fine.</summary>
    public void Remove(int ifIndex, IPAddress address, int prefixLength)
    {
        var message = Describe(ifIndex, address, prefixLength);
        int errno = Send(message, NetlinkHeader.RTM_DELADDR, 0);
        if (errno is not (0 or ENOENT or EADDRNOTAVAIL))
            throw new NetlinkException(errno, $"removing {address}/{prefixLength} from interface {ifIndex}");
    }

    /// <summary>Addresses on one interface, or on all of them when <paramref name="ifIndex"/> is 0.</summary>
    public IReadOnlyList<InterfaceAddress> List(int ifIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ifIndex);
        return ListAddresses(_netlink, ifIndex);
    }

    /// <summary>Removes every address tagged <see cref="OwnedProtocol"/> on the interface (0 = all); returns them.</summary>
    public IReadOnlyList<InterfaceAddress> RemoveOwned(int ifIndex)
    {
        var owned = List(ifIndex).Where(a => a.IsOwned).ToList();
        foreach (var address in owned)
            Remove(address.InterfaceIndex, address.Address, address.PrefixLength);
        return owned;
    }

    internal static IReadOnlyList<InterfaceAddress> ListAddresses(NetlinkSocket netlink, int ifIndex)
    {
        Span<byte> request = stackalloc byte[NetlinkHeader.Size + AddressMessage.Size];
        for (int attempt = 1; ; attempt++)
        {
            uint sequence = netlink.NextSequence();
            int length = AddressMessage.WriteDumpRequest(request, sequence);
            var bodies = netlink.Query(request[..length], sequence, NetlinkHeader.RTM_NEWADDR, out int errno, out bool interrupted);
            if (errno != 0)
                throw new NetlinkException(errno, "listing addresses");
            if (interrupted && attempt < MaxDumpAttempts)
                continue; // addresses changed during the dump: the snapshot may be inconsistent
            var addresses = new List<InterfaceAddress>();
            foreach (byte[] body in bodies)
            {
                if (!AddressMessage.TryRead(body, out AddressMessage message, out string? error))
                    throw new InvalidDataException($"listing addresses: {error}");
                if (ifIndex == 0 || message.InterfaceIndex == ifIndex)
                    addresses.Add(ToInterfaceAddress(message));
            }
            return addresses;
        }
    }

    internal static InterfaceAddress ToInterfaceAddress(AddressMessage message) =>
        new(message.InterfaceIndex, message.Address, message.PrefixLength, message.Protocol, message.Protocol == OwnedProtocol)
        {
            Flags = message.Flags,
        };

    private static AddressMessage Describe(int ifIndex, IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (ifIndex <= 0)
            throw new ArgumentOutOfRangeException(nameof(ifIndex), ifIndex, "interface index must be positive");
        int maxPrefix = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => 32,
            AddressFamily.InterNetworkV6 => 128,
            _ => throw new ArgumentException($"address {address} is neither IPv4 nor IPv6", nameof(address)),
        };
        if (prefixLength < 0 || prefixLength > maxPrefix)
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, $"prefix length of {address} must be 0..{maxPrefix}");
        bool isIPv4 = address.AddressFamily == AddressFamily.InterNetwork;
        var flags = isIPv4 ? AddressFlags.None : AddressFlags.NoDad;
        // The kernel derives IPv6 scope from the address; for IPv4 universe is what `ip addr add` uses.
        byte scope = !isIPv4 && address.IsIPv6LinkLocal ? AddressMessage.RT_SCOPE_LINK : AddressMessage.RT_SCOPE_UNIVERSE;
        var withoutScope = new IPAddress(address.GetAddressBytes());
        return new AddressMessage(address.AddressFamily, (byte)prefixLength, flags, scope, ifIndex, withoutScope, OwnedProtocol);
    }

    private int Send(AddressMessage message, ushort type, ushort extraFlags)
    {
        Span<byte> request = stackalloc byte[AddressMessage.MaxRequestSize];
        uint sequence = _netlink.NextSequence();
        int length = message.WriteRequest(request, type, (ushort)(NetlinkHeader.NLM_F_REQUEST | NetlinkHeader.NLM_F_ACK | extraFlags), sequence);
        return _netlink.Execute(request[..length], sequence);
    }

    public void Dispose() => _netlink.Dispose();
}
