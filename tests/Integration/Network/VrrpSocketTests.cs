using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Network;
using PacketDotNet;

namespace NginxHa.Integration.Tests.Network;

public sealed class VrrpSocketTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly NetworkLab _lab = NetworkLab.Create("nio", 2);
    private readonly List<IDisposable> _sockets = [];

    public void Dispose()
    {
        foreach (var socket in _sockets)
            socket.Dispose();
        _lab.Dispose();
    }

    /// <summary>A VRRPv3 advert as bytes (version 3, type 1, VRID, priority, 1 address, 1 s); the checksum is not this layer's job.</summary>
    private static byte[] Advert(byte vrid, byte priority, IPAddress vip) =>
        [0x31, vrid, priority, 1, 0x00, 0x64, 0x00, 0x00, .. vip.GetAddressBytes()];

    private (VrrpSocket Socket, NetworkInterfaceInfo Iface) Open(LabNode node, AddressFamily family, params IPAddress[] peers)
    {
        var (socket, iface) = node.Run(() =>
        {
            var iface = NetworkInterfaces.Get("eth0");
            return (VrrpSocket.Open(iface, family, peers), iface);
        });
        _sockets.Add(socket);
        return (socket, iface);
    }

    [Fact]
    public async Task IPv4_multicast_adverts_arrive_with_TTL_255_and_TOS_0xc0_and_own_adverts_are_not_received()
    {
        var (a, b) = (_lab.Nodes[0], _lab.Nodes[1]);
        var (socketA, _) = Open(a, AddressFamily.InterNetwork);
        var (socketB, ifaceB) = Open(b, AddressFamily.InterNetwork);
        using var capture = b.Run(() => PacketCapture.Open("eth0"));
        using var timeout = new CancellationTokenSource(Timeout);
        var group = IPAddress.Parse("224.0.0.18");
        Assert.Equal([group], socketA.Destinations);
        Assert.Equal(a.IPv4, socketA.SourceAddress);

        byte[] fromA = Advert(51, 200, IPAddress.Parse("198.18.0.100"));
        var wire = capture.NextAsync(f => Packet.ParsePacket(LinkLayers.Ethernet, f).Extract<IPv4Packet>() is { Protocol: (PacketDotNet.ProtocolType)112 }, Timeout);
        var sentAt = DateTime.UtcNow;
        await socketA.SendAsync(fromA, group, timeout.Token);
        var received = await Task.Run(() => socketB.Receive(timeout.Token));

        Assert.Equal(a.IPv4, received.Source);
        Assert.Equal(group, received.Destination);
        Assert.Equal(255, received.TtlOrHopLimit);
        // The kernel's receive time (SO_TIMESTAMPNS): between the send and now.
        Assert.InRange(received.KernelReceivedUtc!.Value, sentAt, DateTime.UtcNow);
        Assert.Equal(ifaceB.Index, received.InterfaceIndex);
        Assert.Equal(fromA, received.Message.ToArray());

        var frame = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, await wire);
        var ip = frame.Extract<IPv4Packet>();
        Assert.Equal(PhysicalAddress.Parse("01-00-5E-00-00-12"), frame.DestinationHardwareAddress);
        Assert.Equal(a.Mac, frame.SourceHardwareAddress);
        Assert.Equal(0xc0, ip.TypeOfService);
        Assert.Equal(255, ip.TimeToLive);

        // A's own advert must not come back to A: the first thing A reads is B's.
        byte[] fromB = Advert(51, 100, IPAddress.Parse("198.18.0.100"));
        await socketB.SendAsync(fromB, group, timeout.Token);
        var atA = await Task.Run(() => socketA.Receive(timeout.Token));
        Assert.Equal(b.IPv4, atA.Source);
        Assert.Equal(fromB, atA.Message.ToArray());
    }

    [Fact]
    public async Task IPv4_unicast_adverts_go_to_the_peer_with_TTL_255()
    {
        var (a, b) = (_lab.Nodes[0], _lab.Nodes[1]);
        var (socketA, _) = Open(a, AddressFamily.InterNetwork, b.IPv4);
        var (socketB, ifaceB) = Open(b, AddressFamily.InterNetwork, a.IPv4);
        using var capture = b.Run(() => PacketCapture.Open("eth0"));
        using var timeout = new CancellationTokenSource(Timeout);
        Assert.Equal([b.IPv4], socketA.Destinations);

        byte[] fromA = Advert(52, 200, IPAddress.Parse("198.18.0.101"));
        var wire = capture.NextAsync(f => Packet.ParsePacket(LinkLayers.Ethernet, f).Extract<IPv4Packet>() is { Protocol: (PacketDotNet.ProtocolType)112 }, Timeout);
        await socketA.SendAsync(fromA, b.IPv4, timeout.Token);
        var received = await Task.Run(() => socketB.Receive(timeout.Token));

        Assert.Equal(a.IPv4, received.Source);
        Assert.Equal(b.IPv4, received.Destination);
        Assert.Equal(255, received.TtlOrHopLimit);
        Assert.Equal(ifaceB.Index, received.InterfaceIndex);
        Assert.Equal(fromA, received.Message.ToArray());
        var ip = Packet.ParsePacket(LinkLayers.Ethernet, await wire).Extract<IPv4Packet>();
        Assert.Equal((0xc0, 255), (ip.TypeOfService, ip.TimeToLive));

        byte[] fromB = Advert(52, 100, IPAddress.Parse("198.18.0.101"));
        await socketB.SendAsync(fromB, a.IPv4, timeout.Token);
        var atA = await Task.Run(() => socketA.Receive(timeout.Token));
        Assert.Equal((b.IPv4, a.IPv4), (atA.Source, atA.Destination));
        Assert.Equal(fromB, atA.Message.ToArray());
    }

    [Fact]
    public async Task IPv6_multicast_adverts_come_from_the_link_local_address_with_hop_limit_255_and_an_untouched_payload()
    {
        var (a, b) = (_lab.Nodes[0], _lab.Nodes[1]);
        var (socketA, ifaceA) = Open(a, AddressFamily.InterNetworkV6);
        var (socketB, ifaceB) = Open(b, AddressFamily.InterNetworkV6);
        using var capture = b.Run(() => PacketCapture.Open("eth0"));
        using var timeout = new CancellationTokenSource(Timeout);
        var group = IPAddress.Parse("ff02::12");
        Assert.Equal(ifaceA.LinkLocalIPv6, socketA.SourceAddress);

        byte[] fromA = Advert(53, 200, IPAddress.Parse("fe80::100"));
        var wire = capture.NextAsync(f => Packet.ParsePacket(LinkLayers.Ethernet, f).Extract<IPv6Packet>() is { NextHeader: (PacketDotNet.ProtocolType)112 }, Timeout);
        var sentAt = DateTime.UtcNow;
        await socketA.SendAsync(fromA, group, timeout.Token);
        var received = await Task.Run(() => socketB.Receive(timeout.Token));

        Assert.InRange(received.KernelReceivedUtc!.Value, sentAt, DateTime.UtcNow);
        Assert.Equal(ifaceA.LinkLocalIPv6!.GetAddressBytes(), received.Source.GetAddressBytes());
        Assert.Equal(ifaceB.Index, received.Source.ScopeId); // link-local: scoped to the receiving interface
        Assert.Equal(group, received.Destination);
        Assert.Equal(255, received.TtlOrHopLimit);
        Assert.Equal(ifaceB.Index, received.InterfaceIndex);
        Assert.Equal(fromA, received.Message.ToArray()); // no checksum written by the kernel

        var frame = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, await wire);
        var ip = frame.Extract<IPv6Packet>();
        Assert.Equal(PhysicalAddress.Parse("33-33-00-00-00-12"), frame.DestinationHardwareAddress);
        Assert.Equal((0xc0, 255), (ip.TrafficClass, ip.HopLimit));

        byte[] fromB = Advert(53, 100, IPAddress.Parse("fe80::100"));
        await socketB.SendAsync(fromB, group, timeout.Token);
        var atA = await Task.Run(() => socketA.Receive(timeout.Token));
        Assert.Equal(ifaceB.LinkLocalIPv6!.GetAddressBytes(), atA.Source.GetAddressBytes());
        Assert.Equal(fromB, atA.Message.ToArray());
    }

    [Fact]
    public async Task IPv6_unicast_adverts_reach_the_peer_from_our_link_local_address()
    {
        var (a, b) = (_lab.Nodes[0], _lab.Nodes[1]);
        var (socketA, ifaceA) = Open(a, AddressFamily.InterNetworkV6, b.IPv6);
        var (socketB, _) = Open(b, AddressFamily.InterNetworkV6, a.IPv6);
        using var timeout = new CancellationTokenSource(Timeout);

        byte[] fromA = Advert(54, 200, IPAddress.Parse("fe80::100"));
        await socketA.SendAsync(fromA, b.IPv6, timeout.Token);
        var received = await Task.Run(() => socketB.Receive(timeout.Token));

        Assert.Equal(ifaceA.LinkLocalIPv6!.GetAddressBytes(), received.Source.GetAddressBytes());
        Assert.Equal(b.IPv6, received.Destination);
        Assert.Equal(255, received.TtlOrHopLimit);
        Assert.Equal(fromA, received.Message.ToArray());
    }

    [Fact]
    public void Open_rejects_peers_of_the_wrong_family_and_interfaces_without_a_source()
    {
        var a = _lab.Nodes[0];
        var wrongFamily = Assert.Throws<ArgumentException>(() => Open(a, AddressFamily.InterNetwork, a.IPv6));
        Assert.Contains("is not InterNetwork", wrongFamily.Message);
        var multicastPeer = Assert.Throws<ArgumentException>(() => Open(a, AddressFamily.InterNetwork, IPAddress.Parse("224.0.0.18")));
        Assert.Contains("is not a unicast address", multicastPeer.Message);

        var noIPv4 = new NetworkInterfaceInfo("eth0", 2, a.Mac, null, null);
        var missing = Assert.Throws<ArgumentException>(() => VrrpSocket.Open(noIPv4, AddressFamily.InterNetwork, []));
        Assert.Contains("has no primary IPv4 address", missing.Message);
    }
}
