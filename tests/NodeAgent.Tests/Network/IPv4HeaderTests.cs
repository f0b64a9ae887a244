using System.Buffers.Binary;
using System.Net;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Network.Ip;
using NginxHa.NodeAgent.Network.Native;

namespace NginxHa.NodeAgent.Tests.Network;

public sealed class IPv4HeaderTests
{
    private static readonly byte[] Payload = [0x31, 51, 100, 1, 0x00, 0x64, 0xab, 0xcd, 198, 18, 0, 100];

    private static byte[] Packet(byte versionAndIhl = 0x45, int? totalLength = null, byte protocol = 112, int optionBytes = 0)
    {
        int headerLength = 20 + optionBytes;
        int length = totalLength ?? headerLength + Payload.Length;
        var packet = new byte[headerLength + Payload.Length];
        packet[0] = versionAndIhl;
        packet[1] = 0xc0;
        packet[2] = (byte)(length >> 8);
        packet[3] = (byte)length;
        packet[8] = 255;
        packet[9] = protocol;
        new byte[] { 198, 18, 0, 1 }.CopyTo(packet, 12);
        new byte[] { 224, 0, 0, 18 }.CopyTo(packet, 16);
        Payload.CopyTo(packet, headerLength);
        return packet;
    }

    private static byte[] PacketInfo(int ifIndex)
    {
        var control = new byte[ControlMessages.Space(12)];
        BitConverter.TryWriteBytes(ControlMessages.Write(control, 0, 8, 12), ifIndex);
        return control;
    }

    [Fact]
    public void Packet_carries_the_kernel_receive_time_when_the_control_data_has_one()
    {
        var control = new byte[ControlMessages.Space(12) + ControlMessages.Space(16)];
        BitConverter.TryWriteBytes(ControlMessages.Write(control, 0, 8, 12), 7);
        var stamp = ControlMessages.Write(control.AsSpan(ControlMessages.Space(12)), 1, 35, 16); // SOL_SOCKET, SCM_TIMESTAMPNS
        BinaryPrimitives.WriteInt64LittleEndian(stamp, 1_795_471_818);
        BinaryPrimitives.WriteInt64LittleEndian(stamp[8..], 298_703_123);

        Assert.True(VrrpSocket.TryParseIPv4(Packet(), control, out var received, out string? error), error);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_795_471_818).AddTicks(2_987_031), received.KernelReceivedUtc);

        Assert.True(VrrpSocket.TryParseIPv4(Packet(), PacketInfo(7), out received, out error), error);
        Assert.Null(received.KernelReceivedUtc);
    }

    [Theory]
    [InlineData(0, 0)]                      // no time at all
    [InlineData(1_795_471_818, 1_000_000_000)] // nanoseconds out of range
    [InlineData(-5, 0)]
    public void A_kernel_timestamp_out_of_range_counts_as_none(long seconds, long nanoseconds)
    {
        var control = new byte[ControlMessages.Space(16)];
        var stamp = ControlMessages.Write(control, 1, 35, 16);
        BinaryPrimitives.WriteInt64LittleEndian(stamp, seconds);
        BinaryPrimitives.WriteInt64LittleEndian(stamp[8..], nanoseconds);
        Assert.Null(VrrpSocket.ReadKernelTimestamp(control));
    }

    [Fact]
    public void Reads_a_well_formed_header()
    {
        Assert.True(IPv4Header.TryRead(Packet(), out var header, out string? error), error);
        Assert.Equal(new IPv4Header(20, 32, 0xc0, 255, 112, IPAddress.Parse("198.18.0.1"), IPAddress.Parse("224.0.0.18")), header);
    }

    [Theory]
    [InlineData(0x65, null, "IPv4 header version is 6, expected 4")]
    [InlineData(0x44, null, "IPv4 header length (IHL) 16 is outside 20..32")]
    [InlineData(0x4f, null, "IPv4 header length (IHL) 60 is outside 20..32")]
    [InlineData(0x45, 40, "IPv4 total length 40 is outside 20..32")]
    [InlineData(0x45, 10, "IPv4 total length 10 is outside 20..32")]
    public void Rejects_malformed_headers_with_the_reason(byte versionAndIhl, int? totalLength, string expected)
    {
        Assert.False(IPv4Header.TryRead(Packet(versionAndIhl, totalLength), out _, out string? error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Rejects_a_packet_shorter_than_a_header()
    {
        Assert.False(IPv4Header.TryRead(new byte[19], out _, out string? error));
        Assert.Equal("IPv4 packet of 19 bytes is shorter than the 20-byte header", error);
    }

    [Fact]
    public void Received_packet_strips_the_header_including_options()
    {
        byte[] packet = Packet(versionAndIhl: 0x46, optionBytes: 4);
        Assert.True(VrrpSocket.TryParseIPv4(packet, PacketInfo(7), out var received, out string? error), error);
        Assert.Equal(Payload, received.Message.ToArray());
        Assert.Equal((IPAddress.Parse("198.18.0.1"), IPAddress.Parse("224.0.0.18"), 255, 7),
            (received.Source, received.Destination, received.TtlOrHopLimit, received.InterfaceIndex));
    }

    [Fact]
    public void Received_packet_of_another_protocol_or_without_packet_info_is_refused()
    {
        Assert.False(VrrpSocket.TryParseIPv4(Packet(protocol: 17), PacketInfo(7), out _, out string? error));
        Assert.Equal("IPv4 protocol is 17, expected 112", error);
        Assert.False(VrrpSocket.TryParseIPv4(Packet(), [], out _, out error));
        Assert.Equal("no IP_PKTINFO with the packet", error);
    }
}
