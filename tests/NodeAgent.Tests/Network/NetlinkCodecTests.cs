using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Network.Netlink;

namespace NginxHa.NodeAgent.Tests.Network;

public sealed class NetlinkCodecTests
{
    private static readonly AddressMessage Vip = new(AddressFamily.InterNetworkV6, 64, AddressFlags.NoDad, 0, 3,
        IPAddress.Parse("fd00::100"), NetlinkAddressManager.OwnedProtocol);

    [Fact]
    public void Address_request_round_trips_through_the_reader()
    {
        var buffer = new byte[AddressMessage.MaxRequestSize];
        int length = Vip.WriteRequest(buffer, NetlinkHeader.RTM_NEWADDR, NetlinkHeader.NLM_F_REQUEST | NetlinkHeader.NLM_F_ACK, 42);

        Assert.True(NetlinkHeader.TryRead(buffer.AsSpan(0, length), out var header, out string? error), error);
        Assert.Equal(new NetlinkHeader(length, NetlinkHeader.RTM_NEWADDR, NetlinkHeader.NLM_F_REQUEST | NetlinkHeader.NLM_F_ACK, 42, 0), header);
        Assert.True(AddressMessage.TryRead(buffer.AsSpan(NetlinkHeader.Size, length - NetlinkHeader.Size), out var read, out error), error);
        Assert.Equal(Vip, read);
        Assert.Equal(0, length % 4);
    }

    [Fact]
    public void Address_request_layout_matches_ifaddrmsg()
    {
        var buffer = new byte[AddressMessage.MaxRequestSize];
        Vip.WriteRequest(buffer, NetlinkHeader.RTM_NEWADDR, NetlinkHeader.NLM_F_REQUEST, 1);
        ReadOnlySpan<byte> body = buffer.AsSpan(NetlinkHeader.Size);
        Assert.Equal(10, body[0]);  // AF_INET6
        Assert.Equal(64, body[1]);  // prefix length
        Assert.Equal(0x02, body[2]); // IFA_F_NODAD
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(body[4..]));
        // First attribute: IFA_LOCAL, 4 + 16 bytes.
        Assert.Equal(20, BinaryPrimitives.ReadUInt16LittleEndian(body[8..]));
        Assert.Equal(AddressMessage.IFA_LOCAL, BinaryPrimitives.ReadUInt16LittleEndian(body[10..]));
        Assert.Equal(IPAddress.Parse("fd00::100").GetAddressBytes(), body.Slice(12, 16).ToArray());
    }

    [Fact]
    public void Header_with_a_length_beyond_the_datagram_is_refused()
    {
        var buffer = new byte[20];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, 64);
        Assert.False(NetlinkHeader.TryRead(buffer, out _, out string? error));
        Assert.Equal("netlink message length 64 is outside 16..20", error);
        Assert.False(NetlinkHeader.TryRead(buffer.AsSpan(0, 8), out _, out error));
        Assert.Equal("netlink header needs 16 bytes, got 8", error);
    }

    [Fact]
    public void Address_body_with_a_broken_attribute_or_family_is_refused()
    {
        var body = new byte[AddressMessage.Size + 8];
        body[0] = 2; // AF_INET
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(AddressMessage.Size), 40); // longer than what follows
        Assert.False(AddressMessage.TryRead(body, out _, out string? error));
        Assert.Equal("ifaddrmsg attributes: attribute length 40 is outside 4..8", error);

        body[0] = 7;
        Assert.False(AddressMessage.TryRead(body, out _, out error));
        Assert.Equal("ifaddrmsg family 7 is neither AF_INET nor AF_INET6", error);

        Assert.False(AddressMessage.TryRead(body.AsSpan(0, 4), out _, out error));
        Assert.Equal("ifaddrmsg needs 8 bytes, got 4", error);
    }

    [Fact]
    public void Address_body_whose_address_has_the_wrong_size_is_refused()
    {
        var buffer = new byte[AddressMessage.MaxRequestSize];
        var v4 = Vip with { Family = AddressFamily.InterNetwork }; // says IPv4, carries 16 bytes
        int length = v4.WriteRequest(buffer, NetlinkHeader.RTM_NEWADDR, 0, 1);
        Assert.False(AddressMessage.TryRead(buffer.AsSpan(NetlinkHeader.Size, length - NetlinkHeader.Size), out _, out string? error));
        Assert.Equal("ifaddrmsg address is 16 bytes, expected 4", error);
    }

    [Fact]
    public void Watcher_decodes_every_address_message_in_a_datagram_and_skips_others()
    {
        var datagram = new byte[3 * AddressMessage.MaxRequestSize];
        int offset = Vip.WriteRequest(datagram, NetlinkHeader.RTM_DELADDR, 0, 0);
        var foreign = Vip with { Address = IPAddress.Parse("198.18.0.7"), Family = AddressFamily.InterNetwork, PrefixLength = 24, Protocol = 0, Flags = AddressFlags.Secondary };
        offset += foreign.WriteRequest(datagram.AsSpan(offset), NetlinkHeader.RTM_NEWADDR, 0, 0);
        new NetlinkHeader(NetlinkHeader.Size, NetlinkHeader.NLMSG_DONE, 0, 0, 0).Write(datagram.AsSpan(offset));
        offset += NetlinkHeader.Size;

        var changes = new Queue<AddressChange>();
        NetlinkAddressWatcher.Decode(datagram.AsSpan(0, offset), changes);

        Assert.Equal(
            [
                new AddressChange(false, new InterfaceAddress(3, IPAddress.Parse("fd00::100"), 64, 0x70, true) { Flags = AddressFlags.NoDad }),
                new AddressChange(true, new InterfaceAddress(3, IPAddress.Parse("198.18.0.7"), 24, 0, false) { Flags = AddressFlags.Secondary }),
            ],
            changes);
    }

    [Fact]
    public void Link_reply_gives_index_name_and_mac()
    {
        var body = new byte[LinkMessage.Size + 12 + 12];
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), 1); // ARPHRD_ETHER
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), 5);
        var attributes = body.AsSpan(LinkMessage.Size);
        BinaryPrimitives.WriteUInt16LittleEndian(attributes, 9);
        BinaryPrimitives.WriteUInt16LittleEndian(attributes[2..], LinkMessage.IFLA_IFNAME);
        "eth0\0"u8.CopyTo(attributes[4..]);
        BinaryPrimitives.WriteUInt16LittleEndian(attributes[12..], 10);
        BinaryPrimitives.WriteUInt16LittleEndian(attributes[14..], LinkMessage.IFLA_ADDRESS);
        new byte[] { 2, 0, 0xc6, 0x12, 0, 1 }.CopyTo(attributes[16..]);

        Assert.True(LinkMessage.TryRead(body, out var link, out string? error), error);
        Assert.Equal((5, (ushort)1, "eth0", "0200C6120001"), (link.InterfaceIndex, link.DeviceType, link.Name, link.HardwareAddress.ToString()));

        Assert.False(LinkMessage.TryRead(body.AsSpan(0, LinkMessage.Size), out _, out error));
        Assert.Equal("ifinfomsg has no IFLA_IFNAME", error);
    }
}
