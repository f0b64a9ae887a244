using System.Net;
using System.Net.NetworkInformation;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Network;
using PacketDotNet;
using PacketDotNet.Ndp;

namespace NginxHa.Integration.Tests.Network;

/// <summary>
/// The peer starts with a stale neighbour entry pointing at an old MAC, as after a failover; the
/// announcement must move it to ours. (Linux creates no entry from an unsolicited announcement
/// unless arp_accept / accept_untracked_na is set, but always updates an existing one.)
/// </summary>
public sealed class GratuitousAnnouncerTests : IDisposable
{
    private const string OldMac = "02:00:00:00:00:99";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly NetworkLab _lab = NetworkLab.Create("nio", 2);

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Gratuitous_ARP_is_a_broadcast_request_for_the_VIP_and_updates_the_peer_neighbour_table()
    {
        var (master, peer) = (_lab.Nodes[0], _lab.Nodes[1]);
        var vip = IPAddress.Parse("198.18.0.100");
        peer.Exec("ip", "neigh", "replace", vip.ToString(), "lladdr", OldMac, "dev", "eth0", "nud", "stale");
        var iface = master.Run(() => NetworkInterfaces.Get("eth0"));
        using var capture = peer.Run(() => PacketCapture.Open("eth0"));
        using var announcer = master.Run(() => new GratuitousAnnouncer(iface));

        var frameTask = capture.NextAsync(f => Packet.ParsePacket(LinkLayers.Ethernet, f).Extract<ArpPacket>() is not null, Timeout);
        announcer.Announce([vip]);
        var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, await frameTask);
        var arp = ethernet.Extract<ArpPacket>();

        Assert.Equal(PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), ethernet.DestinationHardwareAddress);
        Assert.Equal(master.Mac, ethernet.SourceHardwareAddress);
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(LinkLayers.Ethernet, arp.HardwareAddressType);
        Assert.Equal(EthernetType.IPv4, arp.ProtocolAddressType);
        Assert.Equal(master.Mac, arp.SenderHardwareAddress);
        Assert.Equal(vip, arp.SenderProtocolAddress);
        Assert.Equal(vip, arp.TargetProtocolAddress);
        Assert.Equal(PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), arp.TargetHardwareAddress);

        string expected = NetworkLab.FormatMac(master.Mac);
        await Eventually.Until(() => IpJson.NeighbourMac(peer, vip.ToString(), "eth0"), mac => mac == expected, Timeout,
            $"peer neighbour entry for {vip} did not become {expected}");
    }

    [Fact]
    public async Task Unsolicited_NA_carries_override_and_target_address_and_updates_the_peer_neighbour_table()
    {
        var (master, peer) = (_lab.Nodes[0], _lab.Nodes[1]);
        var vip = IPAddress.Parse("fd00::100");
        peer.Exec("ip", "-6", "neigh", "replace", vip.ToString(), "lladdr", OldMac, "dev", "eth0", "nud", "stale");
        var iface = master.Run(() => NetworkInterfaces.Get("eth0"));
        using var manager = master.Run(() => new NetlinkAddressManager());
        manager.Add(iface.Index, vip, 64);
        using var capture = peer.Run(() => PacketCapture.Open("eth0"));
        using var announcer = master.Run(() => new GratuitousAnnouncer(iface));

        var frameTask = capture.NextAsync(f => Packet.ParsePacket(LinkLayers.Ethernet, f).Extract<NdpNeighborAdvertisementPacket>() is not null, Timeout);
        announcer.Announce([vip]);
        var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, await frameTask);
        var ipv6 = ethernet.Extract<IPv6Packet>();
        var icmp = ethernet.Extract<IcmpV6Packet>();
        var na = ethernet.Extract<NdpNeighborAdvertisementPacket>();

        Assert.Equal(PhysicalAddress.Parse("33-33-00-00-00-01"), ethernet.DestinationHardwareAddress);
        Assert.Equal(master.Mac, ethernet.SourceHardwareAddress);
        Assert.Equal(255, ipv6.HopLimit);
        Assert.Equal(vip, ipv6.SourceAddress);
        Assert.Equal(IPAddress.Parse("ff02::1"), ipv6.DestinationAddress);
        Assert.True(icmp.ValidIcmpChecksum, "ICMPv6 checksum");
        Assert.Equal(0, icmp.Code);
        Assert.True(na.Override);
        Assert.False(na.Solicited);
        Assert.False(na.Router);
        Assert.Equal(vip, na.TargetAddress);
        var option = Assert.Single(na.OptionsCollection.OfType<NdpLinkLayerAddressOption>());
        Assert.Equal(master.Mac, option.LinkLayerAddress);

        string expected = NetworkLab.FormatMac(master.Mac);
        await Eventually.Until(() => IpJson.NeighbourMac(peer, vip.ToString(), "eth0"), mac => mac == expected, Timeout,
            $"peer neighbour entry for {vip} did not become {expected}");
    }
}
