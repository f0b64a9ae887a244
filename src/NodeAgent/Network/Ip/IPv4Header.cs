using System.Buffers.Binary;
using System.Net;

namespace NginxHa.NodeAgent.Network.Ip;

/// <summary>
/// The IPv4 header a raw IPv4 socket hands over with each packet (RFC 791 section 3.1); read only,
/// since the kernel writes it on send. Linux leaves Total Length in network order on raw receive.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
internal readonly record struct IPv4Header(int HeaderLength, int TotalLength, byte TypeOfService, byte TimeToLive, byte Protocol, IPAddress Source, IPAddress Destination)
{
    public const int MinimumSize = 20;
    private const int VersionAndLengthOffset = 0;
    private const int TypeOfServiceOffset = 1;
    private const int TotalLengthOffset = 2;
    private const int TimeToLiveOffset = 8;
    private const int ProtocolOffset = 9;
    private const int SourceOffset = 12;
    private const int DestinationOffset = 16;
    private const int Version = 4;

    /// <summary>Reads the header of <paramref name="packet"/>; the payload is packet[HeaderLength..TotalLength].</summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out IPv4Header header, out string? error)
    {
        header = default;
        if (packet.Length < MinimumSize)
        {
            error = $"IPv4 packet of {packet.Length} bytes is shorter than the {MinimumSize}-byte header";
            return false;
        }
        int version = packet[VersionAndLengthOffset] >> 4;
        if (version != Version)
        {
            error = $"IPv4 header version is {version}, expected {Version}";
            return false;
        }
        int headerLength = (packet[VersionAndLengthOffset] & 0x0f) * 4;
        if (headerLength < MinimumSize || headerLength > packet.Length)
        {
            error = $"IPv4 header length (IHL) {headerLength} is outside {MinimumSize}..{packet.Length}";
            return false;
        }
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[TotalLengthOffset..]);
        if (totalLength < headerLength || totalLength > packet.Length)
        {
            error = $"IPv4 total length {totalLength} is outside {headerLength}..{packet.Length}";
            return false;
        }
        header = new IPv4Header(headerLength, totalLength, packet[TypeOfServiceOffset], packet[TimeToLiveOffset], packet[ProtocolOffset],
            new IPAddress(packet.Slice(SourceOffset, 4)), new IPAddress(packet.Slice(DestinationOffset, 4)));
        error = null;
        return true;
    }
}
