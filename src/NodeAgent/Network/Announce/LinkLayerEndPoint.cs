using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NginxHa.NodeAgent.Network.Announce;

/// <summary>
/// struct sockaddr_ll for AF_PACKET sockets, which .NET has no endpoint type for:
/// family(2) protocol(2, network order) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8).
/// </summary>
internal sealed class LinkLayerEndPoint(int interfaceIndex, ushort etherType) : EndPoint
{
    private const int Size = 20;
    private const int ProtocolOffset = 2;
    private const int InterfaceIndexOffset = 4;

    public int InterfaceIndex { get; } = interfaceIndex;
    public ushort EtherType { get; } = etherType;

    public override AddressFamily AddressFamily => AddressFamily.Packet;

    public override SocketAddress Serialize()
    {
        var address = new SocketAddress(AddressFamily.Packet, Size);
        Span<byte> bytes = address.Buffer.Span;
        BinaryPrimitives.WriteUInt16BigEndian(bytes[ProtocolOffset..], EtherType);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[InterfaceIndexOffset..], InterfaceIndex);
        return address;
    }

    public override EndPoint Create(SocketAddress socketAddress) =>
        new LinkLayerEndPoint(
            BinaryPrimitives.ReadInt32LittleEndian(socketAddress.Buffer.Span[InterfaceIndexOffset..]),
            BinaryPrimitives.ReadUInt16BigEndian(socketAddress.Buffer.Span[ProtocolOffset..]));
}
