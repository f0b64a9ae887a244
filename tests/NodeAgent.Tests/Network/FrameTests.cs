using NginxHa.NodeAgent.Network;
using System.Net;
using System.Net.NetworkInformation;
using NginxHa.NodeAgent.Network.Announce;
using NginxHa.NodeAgent.Network.Native;
using PacketDotNet;
using PacketDotNet.Ndp;

namespace NginxHa.NodeAgent.Tests.Network;

/// <summary>Frames are checked with PacketDotNet, an independent decoder.</summary>
public sealed class FrameTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("02-00-C6-12-00-01");

    [Fact]
    public void Gratuitous_ARP_is_a_request_with_sender_equal_target()
    {
        var frame = new byte[GratuitousArpFrame.Size];
        Assert.Equal(42, GratuitousArpFrame.Write(frame, Mac, IPAddress.Parse("198.18.0.100")));

        var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var arp = ethernet.Extract<ArpPacket>();
        Assert.Equal(EthernetType.Arp, ethernet.Type);
        Assert.Equal("FFFFFFFFFFFF", ethernet.DestinationHardwareAddress.ToString());
        Assert.Equal((ArpOperation.Request, Mac, "FFFFFFFFFFFF"), (arp.Operation, arp.SenderHardwareAddress, arp.TargetHardwareAddress.ToString()));
        Assert.Equal(IPAddress.Parse("198.18.0.100"), arp.SenderProtocolAddress);
        Assert.Equal(IPAddress.Parse("198.18.0.100"), arp.TargetProtocolAddress);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Neighbor_advertisement_has_a_valid_checksum_and_the_right_flags(bool isRouter)
    {
        var vip = IPAddress.Parse("fd00::100");
        var frame = new byte[UnsolicitedNeighborAdvertisementFrame.Size];
        UnsolicitedNeighborAdvertisementFrame.Write(frame, Mac, vip, isRouter);

        var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var ipv6 = ethernet.Extract<IPv6Packet>();
        var icmp = ethernet.Extract<IcmpV6Packet>();
        var na = ethernet.Extract<NdpNeighborAdvertisementPacket>();
        Assert.Equal("333300000001", ethernet.DestinationHardwareAddress.ToString());
        Assert.Equal((255, vip, IPAddress.Parse("ff02::1"), 32), (ipv6.HopLimit, ipv6.SourceAddress, ipv6.DestinationAddress, (int)ipv6.PayloadLength));
        Assert.True(icmp.ValidIcmpChecksum);
        Assert.Equal((true, false, isRouter, vip), (na.Override, na.Solicited, na.Router, na.TargetAddress));
        Assert.Equal(Mac, Assert.IsType<NdpLinkLayerAddressOption>(Assert.Single(na.OptionsCollection)).LinkLayerAddress);
    }

    [Fact]
    public void Frames_refuse_the_wrong_family_or_a_non_Ethernet_MAC()
    {
        var frame = new byte[128];
        var wrongFamily = Assert.Throws<ArgumentException>(() => GratuitousArpFrame.Write(frame, Mac, IPAddress.Parse("fd00::1")));
        Assert.Contains("needs an IPv4 address", wrongFamily.Message);
        var longMac = Assert.Throws<ArgumentException>(() =>
            UnsolicitedNeighborAdvertisementFrame.Write(frame, PhysicalAddress.Parse("02-00-00-00-00-00-00-01"), IPAddress.Parse("fd00::1"), false));
        Assert.Contains("is not a 6-byte Ethernet address", longMac.Message);
    }

    [Fact]
    public void Internet_checksum_matches_RFC_1071_and_is_independent_of_even_span_boundaries()
    {
        // RFC 1071 section 3 example: the sum of these bytes is 0xddf2.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        ushort whole = InternetChecksum.Finish(InternetChecksum.Accumulate(0, data));
        Assert.Equal((ushort)0x220d, whole); // ~0xddf2

        uint sum = InternetChecksum.Accumulate(0, data.AsSpan(0, 2));
        sum = InternetChecksum.Accumulate(sum, data.AsSpan(2, 4));
        Assert.Equal(whole, InternetChecksum.Finish(InternetChecksum.Accumulate(sum, data.AsSpan(6))));
    }

    [Fact]
    public void Control_messages_are_found_by_level_and_type()
    {
        var control = new byte[ControlMessages.Space(20) + ControlMessages.Space(4)];
        ControlMessages.Write(control, 41, 50, 20).Fill(0xaa);
        BitConverter.TryWriteBytes(ControlMessages.Write(control.AsSpan(ControlMessages.Space(20)), 41, 52, 4), 255);

        Assert.True(ControlMessages.TryFind(control, 41, 52, out var hopLimit));
        Assert.Equal(255, BitConverter.ToInt32(hopLimit));
        Assert.True(ControlMessages.TryFind(control, 41, 50, out var info));
        Assert.Equal(20, info.Length);
        Assert.False(ControlMessages.TryFind(control, 0, 8, out _));
        Assert.False(ControlMessages.TryFind(control.AsSpan(0, 10), 41, 50, out _)); // shorter than a header
    }
}
