using NginxHa.NodeAgent.Network;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// Codec for the VRRP message (the IP payload; the IP header belongs to the socket layer).
/// </summary>
/// <remarks>
/// RFC 5798 section 5.1 (VRRPv3, IPv4 and IPv6):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    IPv4 Fields or IPv6 Fields                 |
/// ...                                                             ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                       IPvX Address(es)                        |
/// +                                                               +
/// +                                                               +
/// +                                                               +
/// +                                                               +
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Max Adver Int is in centiseconds. The v3 checksum also covers a pseudo-header (section 5.2.8):
/// for IPv4 the RFC 768 one (source, destination, zero, protocol 112, VRRP length), for IPv6 the
/// RFC 2460 section 8.1 one (source, destination, 32-bit length, 3 zero bytes, next header 112).
///
/// RFC 3768 section 5.1 (VRRPv2, IPv4 only):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Adver Int   |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (1)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            .                                  |
/// |                            .                                  |
/// |                            .                                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (n)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (1)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (2)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Adver Int is in seconds; the v2 checksum covers the VRRP message only. Simple-text
/// authentication (RFC 2338, still used by keepalived) carries the password zero padded to 8 bytes.
/// </remarks>
public static class VrrpPacket
{
    /// <summary>IANA protocol number of VRRP (RFC 5798 section 5.1.1.4 / 5.1.2.3).</summary>
    public const byte IpProtocolNumber = 112;

    /// <summary>The only packet type, ADVERTISEMENT (RFC 5798 section 5.2.2).</summary>
    public const byte TypeAdvertisement = 1;

    /// <summary>Sent and required IPv4 TTL / IPv6 hop limit (RFC 5798 section 5.1.1.3 / 5.1.2.2).</summary>
    public const byte RequiredTtl = 255;

    /// <summary>Max Adver Int is a 12-bit count of centiseconds (RFC 5798 section 5.2.7).</summary>
    public const int MaxAdvertIntervalCentiseconds = 0x0FFF;

    /// <summary>Length of the VRRPv2 Authentication Data field (RFC 3768 section 5.3.10).</summary>
    public const int AuthDataLength = 8;

    public const int HeaderLength = 8;

    /// <summary>Multicast destination for IPv4 adverts (RFC 5798 section 5.1.1.2).</summary>
    public static IPAddress IPv4MulticastGroup { get; } = IPAddress.Parse("224.0.0.18");

    /// <summary>Multicast destination for IPv6 adverts (RFC 5798 section 5.1.2.2).</summary>
    public static IPAddress IPv6MulticastGroup { get; } = IPAddress.Parse("ff02::12");

    private const int VersionTypeOffset = 0;
    private const int VirtualRouterIdOffset = 1;
    private const int PriorityOffset = 2;
    private const int AddressCountOffset = 3;
    private const int V2AuthTypeOffset = 4;
    private const int V2AdvertIntervalOffset = 5;
    private const int V3MaxAdvertIntervalOffset = 4;
    private const int ChecksumOffset = 6;
    private const int AddressesOffset = HeaderLength;

    private const int V3MaxAdvertIntervalMask = 0x0FFF;
    private const int MaxAddressCount = byte.MaxValue;
    private const int MaxV2AdvertIntervalSeconds = byte.MaxValue;
    private const int IPv4AddressLength = 4;
    private const int IPv6AddressLength = 16;
    private const long TicksPerCentisecond = TimeSpan.TicksPerMillisecond * 10;

    // Pseudo-header layouts for the v3 checksum.
    private const int IPv4PseudoHeaderLength = 12;
    private const int IPv4PseudoSourceOffset = 0;
    private const int IPv4PseudoDestinationOffset = 4;
    private const int IPv4PseudoProtocolOffset = 9;
    private const int IPv4PseudoLengthOffset = 10;
    private const int IPv6PseudoHeaderLength = 40;
    private const int IPv6PseudoSourceOffset = 0;
    private const int IPv6PseudoDestinationOffset = 16;
    private const int IPv6PseudoLengthOffset = 32;
    private const int IPv6PseudoNextHeaderOffset = 39;

    /// <summary>Bytes <see cref="Write"/> produces for <paramref name="advert"/>.</summary>
    /// <exception cref="ArgumentException">No addresses, too many, or an unknown version.</exception>
    public static int GetEncodedLength(VrrpAdvertisement advert)
    {
        ArgumentNullException.ThrowIfNull(advert);
        ValidateAddressCount(advert.Addresses);
        IPAddress? first = advert.Addresses[0];
        int addressLength = (first is null ? null : AddressLength(first.AddressFamily))
            ?? throw new ArgumentException($"Addresses[0] ({first?.ToString() ?? "null"}) is neither IPv4 nor IPv6.", nameof(advert));
        return advert.Version switch
        {
            VrrpVersion.V2 => HeaderLength + advert.Addresses.Count * addressLength + AuthDataLength,
            VrrpVersion.V3 => HeaderLength + advert.Addresses.Count * addressLength,
            _ => throw new ArgumentException($"Version {(int)advert.Version} is not 2 or 3.", nameof(advert)),
        };
    }

    /// <summary>Encodes <paramref name="advert"/> with its checksum; returns the bytes written.</summary>
    /// <param name="source">The IP source address the advert will be sent from (v3 checksum).</param>
    /// <param name="destinationAddress">The IP destination, usually the multicast group (v3 checksum).</param>
    /// <exception cref="ArgumentException">The advert is not encodable (it is local configuration).</exception>
    public static int Write(Span<byte> destination, VrrpAdvertisement advert, IPAddress source, IPAddress destinationAddress)
    {
        ArgumentNullException.ThrowIfNull(advert);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destinationAddress);
        source = Normalize(source);
        destinationAddress = Normalize(destinationAddress);
        ValidateForWrite(advert, source, destinationAddress);

        int length = GetEncodedLength(advert);
        if (destination.Length < length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} bytes; the advert needs {length}.", nameof(destination));
        }
        Span<byte> message = destination[..length];
        message.Clear();

        message[VersionTypeOffset] = (byte)(((int)advert.Version << 4) | TypeAdvertisement);
        message[VirtualRouterIdOffset] = advert.VirtualRouterId;
        message[PriorityOffset] = advert.Priority;
        message[AddressCountOffset] = (byte)advert.Addresses.Count;

        int addressLength = AddressLength(source.AddressFamily)!.Value;
        for (int i = 0; i < advert.Addresses.Count; i++)
        {
            advert.Addresses[i].TryWriteBytes(message.Slice(AddressesOffset + i * addressLength, addressLength), out _);
        }

        uint sum;
        if (advert.Version == VrrpVersion.V2)
        {
            message[V2AuthTypeOffset] = (byte)advert.AuthType;
            message[V2AdvertIntervalOffset] = (byte)(advert.AdvertInterval.Ticks / TimeSpan.TicksPerSecond);
            advert.AuthData.Span.CopyTo(message[^AuthDataLength..]);
            sum = 0;
        }
        else
        {
            ushort centiseconds = (ushort)(advert.AdvertInterval.Ticks / TicksPerCentisecond);
            BinaryPrimitives.WriteUInt16BigEndian(message[V3MaxAdvertIntervalOffset..], centiseconds);
            sum = PseudoHeaderSum(source, destinationAddress, length);
        }

        ushort checksum = InternetChecksum.Finish(InternetChecksum.Accumulate(sum, message));
        BinaryPrimitives.WriteUInt16BigEndian(message[ChecksumOffset..], checksum);
        return length;
    }

    /// <summary>
    /// Decodes and structurally checks one VRRP message. Never throws; anything but
    /// <see cref="VrrpDropReason.Ok"/> leaves <paramref name="advert"/> null.
    /// </summary>
    /// <param name="vrrp">The IP payload (VRRP message only).</param>
    /// <param name="source">IP source of the packet: decides the v3 address size and enters the v3 checksum.</param>
    /// <param name="destinationAddress">IP destination of the packet (v3 checksum).</param>
    public static VrrpDropReason TryRead(ReadOnlySpan<byte> vrrp, IPAddress source, IPAddress destinationAddress, out VrrpAdvertisement? advert)
    {
        advert = null;
        if (vrrp.Length < HeaderLength)
        {
            return VrrpDropReason.Truncated;
        }

        int versionField = vrrp[VersionTypeOffset] >> 4;
        if (versionField != (int)VrrpVersion.V2 && versionField != (int)VrrpVersion.V3)
        {
            return VrrpDropReason.BadVersion;
        }
        var version = (VrrpVersion)versionField;
        if ((vrrp[VersionTypeOffset] & 0x0F) != TypeAdvertisement)
        {
            return VrrpDropReason.BadType;
        }

        if (source is null || destinationAddress is null)
        {
            return VrrpDropReason.AddressFamilyMismatch;
        }
        source = Normalize(source);
        destinationAddress = Normalize(destinationAddress);
        int? addressLengthOrNull = AddressLength(source.AddressFamily);
        if (addressLengthOrNull is not { } addressLength
            || source.AddressFamily != destinationAddress.AddressFamily
            || (version == VrrpVersion.V2 && source.AddressFamily != AddressFamily.InterNetwork))
        {
            return VrrpDropReason.AddressFamilyMismatch;
        }

        int count = vrrp[AddressCountOffset];
        if (count == 0)
        {
            return VrrpDropReason.ZeroAddressCount;
        }
        int expectedLength = HeaderLength + count * addressLength + (version == VrrpVersion.V2 ? AuthDataLength : 0);
        if (vrrp.Length < expectedLength)
        {
            return VrrpDropReason.Truncated;
        }
        if (vrrp.Length > expectedLength)
        {
            return VrrpDropReason.LengthMismatch;
        }

        uint sum = version == VrrpVersion.V3 ? PseudoHeaderSum(source, destinationAddress, vrrp.Length) : 0;
        if (InternetChecksum.Finish(InternetChecksum.Accumulate(sum, vrrp)) != 0)
        {
            return VrrpDropReason.BadChecksum;
        }

        TimeSpan interval;
        var authType = VrrpAuthType.None;
        ReadOnlyMemory<byte> authData = default;
        if (version == VrrpVersion.V2)
        {
            byte authField = vrrp[V2AuthTypeOffset];
            if (authField > (byte)VrrpAuthType.IpAuthenticationHeader)
            {
                return VrrpDropReason.UnknownAuthType;
            }
            authType = (VrrpAuthType)authField;
            if (authType != VrrpAuthType.None)
            {
                authData = vrrp[^AuthDataLength..].ToArray();
            }
            interval = TimeSpan.FromSeconds(vrrp[V2AdvertIntervalOffset]);
        }
        else
        {
            // The 4 reserved bits are ignored on reception (RFC 5798 section 5.2.6).
            int centiseconds = BinaryPrimitives.ReadUInt16BigEndian(vrrp[V3MaxAdvertIntervalOffset..]) & V3MaxAdvertIntervalMask;
            interval = TimeSpan.FromTicks(centiseconds * TicksPerCentisecond);
        }
        if (interval == TimeSpan.Zero)
        {
            // A zero interval would make Master_Down_Interval collapse to Skew_Time.
            return VrrpDropReason.InvalidAdvertInterval;
        }

        var addresses = new IPAddress[count];
        for (int i = 0; i < count; i++)
        {
            addresses[i] = new IPAddress(vrrp.Slice(AddressesOffset + i * addressLength, addressLength));
        }

        advert = new VrrpAdvertisement(version, vrrp[VirtualRouterIdOffset], vrrp[PriorityOffset], interval, addresses, authType, authData);
        return VrrpDropReason.Ok;
    }

    private static void ValidateForWrite(VrrpAdvertisement advert, IPAddress source, IPAddress destinationAddress)
    {
        if (advert.Version is not (VrrpVersion.V2 or VrrpVersion.V3))
        {
            throw new ArgumentException($"Version {(int)advert.Version} is not 2 or 3.", nameof(advert));
        }
        if (AddressLength(source.AddressFamily) is null)
        {
            throw new ArgumentException($"Source {source} is neither IPv4 nor IPv6.", nameof(source));
        }
        if (source.AddressFamily != destinationAddress.AddressFamily)
        {
            throw new ArgumentException($"Destination {destinationAddress} is not of the source's address family ({source}).", nameof(destinationAddress));
        }
        if (advert.Version == VrrpVersion.V2 && source.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"VRRPv2 is IPv4 only; source is {source}.", nameof(source));
        }

        ValidateAddressCount(advert.Addresses);
        for (int i = 0; i < advert.Addresses.Count; i++)
        {
            IPAddress? address = advert.Addresses[i];
            if (address is null || address.AddressFamily != source.AddressFamily)
            {
                throw new ArgumentException($"Addresses[{i}] ({address?.ToString() ?? "null"}) is not of the source's address family ({source}).", nameof(advert));
            }
        }

        if (advert.Version == VrrpVersion.V2)
        {
            ValidateV2Interval(advert.AdvertInterval);
            ValidateV2Auth(advert.AuthType, advert.AuthData);
        }
        else
        {
            ValidateV3Interval(advert.AdvertInterval);
            if (advert.AuthType != VrrpAuthType.None || !advert.AuthData.IsEmpty)
            {
                throw new ArgumentException("VRRPv3 has no authentication (RFC 5798 section 9); AuthType must be None and AuthData empty.", nameof(advert));
            }
        }
    }

    private static void ValidateAddressCount(IReadOnlyList<IPAddress> addresses)
    {
        if (addresses is null || addresses.Count == 0)
        {
            throw new ArgumentException("Addresses is empty; an advert carries at least one address.", "advert");
        }
        if (addresses.Count > MaxAddressCount)
        {
            throw new ArgumentException($"Addresses has {addresses.Count} entries; 'Count IP Addrs' holds at most {MaxAddressCount}.", "advert");
        }
    }

    private static void ValidateV2Interval(TimeSpan interval)
    {
        if (interval.Ticks % TimeSpan.TicksPerSecond != 0
            || interval < TimeSpan.FromSeconds(1)
            || interval > TimeSpan.FromSeconds(MaxV2AdvertIntervalSeconds))
        {
            throw new ArgumentException($"AdvertInterval {interval} must be whole seconds from 1 to {MaxV2AdvertIntervalSeconds} for VRRPv2.", "advert");
        }
    }

    private static void ValidateV3Interval(TimeSpan interval)
    {
        if (interval.Ticks % TicksPerCentisecond != 0
            || interval.Ticks < TicksPerCentisecond
            || interval.Ticks > MaxAdvertIntervalCentiseconds * TicksPerCentisecond)
        {
            throw new ArgumentException($"AdvertInterval {interval} must be whole centiseconds from 1 to {MaxAdvertIntervalCentiseconds} for VRRPv3.", "advert");
        }
    }

    private static void ValidateV2Auth(VrrpAuthType authType, ReadOnlyMemory<byte> authData)
    {
        switch (authType)
        {
            case VrrpAuthType.None when !authData.IsEmpty:
                throw new ArgumentException("AuthData must be empty when AuthType is None.", "advert");
            case VrrpAuthType.None:
                return;
            case VrrpAuthType.SimpleText when authData.IsEmpty || authData.Length > AuthDataLength:
                throw new ArgumentException($"AuthData for simple-text authentication must be 1 to {AuthDataLength} bytes; it is {authData.Length}.", "advert");
            case VrrpAuthType.SimpleText:
                return;
            case VrrpAuthType.IpAuthenticationHeader:
                throw new ArgumentException("AuthType IpAuthenticationHeader (IPsec AH) is not supported.", "advert");
            default:
                throw new ArgumentException($"AuthType {(int)authType} is not a VRRPv2 authentication type.", "advert");
        }
    }

    private static uint PseudoHeaderSum(IPAddress source, IPAddress destination, int vrrpLength)
    {
        Span<byte> pseudoHeader = stackalloc byte[IPv6PseudoHeaderLength];
        pseudoHeader.Clear();
        if (source.AddressFamily == AddressFamily.InterNetwork)
        {
            pseudoHeader = pseudoHeader[..IPv4PseudoHeaderLength];
            source.TryWriteBytes(pseudoHeader[IPv4PseudoSourceOffset..], out _);
            destination.TryWriteBytes(pseudoHeader[IPv4PseudoDestinationOffset..], out _);
            pseudoHeader[IPv4PseudoProtocolOffset] = IpProtocolNumber;
            BinaryPrimitives.WriteUInt16BigEndian(pseudoHeader[IPv4PseudoLengthOffset..], (ushort)vrrpLength);
        }
        else
        {
            source.TryWriteBytes(pseudoHeader[IPv6PseudoSourceOffset..], out _);
            destination.TryWriteBytes(pseudoHeader[IPv6PseudoDestinationOffset..], out _);
            BinaryPrimitives.WriteUInt32BigEndian(pseudoHeader[IPv6PseudoLengthOffset..], (uint)vrrpLength);
            pseudoHeader[IPv6PseudoNextHeaderOffset] = IpProtocolNumber;
        }
        return InternetChecksum.Accumulate(0, pseudoHeader);
    }

    private static int? AddressLength(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => IPv4AddressLength,
        AddressFamily.InterNetworkV6 => IPv6AddressLength,
        _ => null,
    };

    // Dual-mode sockets report IPv4 peers as ::ffff:a.b.c.d; on the wire they are IPv4.
    private static IPAddress Normalize(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
