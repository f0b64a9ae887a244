using System.Buffers.Binary;
using System.Net;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Network.Native;

namespace NginxHa.NodeAgent.Tests.Network;

public sealed class IPv6ReceiveTests
{
    private static readonly byte[] Message = [0x31, 1, 100, 1, 0, 100, 0, 0];

    private static byte[] Name(IPAddress source, int scope)
    {
        var name = new byte[SocketAddresses.IPv6Size];
        SocketAddresses.WriteIP(name, source, scope);
        return name;
    }

    private static byte[] Control(bool withHopLimit)
    {
        var control = new byte[ControlMessages.Space(20) + ControlMessages.Space(4)];
        Span<byte> info = ControlMessages.Write(control, 41, 50, 20);
        IPAddress.Parse("ff02::12").TryWriteBytes(info, out _);
        BinaryPrimitives.WriteInt32LittleEndian(info[16..], 4);
        if (withHopLimit)
            BinaryPrimitives.WriteInt32LittleEndian(ControlMessages.Write(control.AsSpan(ControlMessages.Space(20)), 41, 52, 4), 255);
        return control;
    }

    [Fact]
    public void Reads_source_destination_hop_limit_and_interface_from_the_ancillary_data()
    {
        Assert.True(VrrpSocket.TryParseIPv6(Message, Control(withHopLimit: true), Name(IPAddress.Parse("fe80::1"), 4), out var packet, out string? error), error);
        Assert.Equal(IPAddress.Parse("fe80::1%4"), packet.Source);
        Assert.Equal((IPAddress.Parse("ff02::12"), 255, 4), (packet.Destination, packet.TtlOrHopLimit, packet.InterfaceIndex));
        Assert.Equal(Message, packet.Message.ToArray());
    }

    [Fact]
    public void Without_hop_limit_or_source_the_packet_is_refused_with_the_reason()
    {
        Assert.False(VrrpSocket.TryParseIPv6(Message, Control(withHopLimit: false), Name(IPAddress.Parse("fe80::1"), 4), out _, out string? error));
        Assert.Equal("no IPV6_HOPLIMIT with the packet", error);
        Assert.False(VrrpSocket.TryParseIPv6(Message, Control(withHopLimit: true), [], out _, out error));
        Assert.Equal("no IPv6 source address with the packet", error);
    }
}
