using System.Net;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Resources;

/// <summary>RFC 5798 section 5.2.9: an IPv6 advert lists the virtual router's link-local address first.</summary>
public class VirtualRouterLinkLocalTests
{
    private static VirtualIp[] Vips(params string[] texts) =>
        texts.Select(t => VirtualIp.TryParse(t, out var vip, out var reason) ? vip : throw new ArgumentException($"{t} {reason}")).ToArray();

    private static string[] Texts(IEnumerable<VirtualIp> vips) => vips.Select(v => v.ToString()).ToArray();

    [Theory]
    [InlineData(1, "fe80::200:5eff:fe00:201")]
    [InlineData(51, "fe80::200:5eff:fe00:233")]
    [InlineData(255, "fe80::200:5eff:fe00:2ff")]
    public void The_address_is_the_modified_EUI64_of_the_virtual_router_MAC(byte vrid, string expected)
    {
        // MAC 00-00-5E-00-02-{VRID}: flip the universal/local bit of 00 (-> 02), insert ff:fe in the middle.
        Assert.Equal(IPAddress.Parse(expected), VirtualRouterLinkLocal.For(vrid));
        Assert.True(VirtualRouterLinkLocal.For(vrid).IsIPv6LinkLocal);
        Assert.True(VirtualRouterLinkLocal.IsDerived(VirtualRouterLinkLocal.For(vrid)));
    }

    [Fact]
    public void An_IPv6_list_without_a_link_local_address_gets_the_virtual_routers_one_first()
    {
        var completed = VirtualRouterLinkLocal.Complete(Vips("fd00::100/64", "fd00::101/64"), 51, unicast: false);

        Assert.Equal(["fe80::200:5eff:fe00:233/64", "fd00::100/64", "fd00::101/64"], Texts(completed));
        Assert.True(VirtualRouterLinkLocal.AddsAddress(Vips("fd00::100/64"), unicast: false));
    }

    [Fact]
    public void A_given_link_local_address_is_kept_and_moved_to_the_front()
    {
        Assert.Equal(["fe80::1/64", "fd00::100/64"], Texts(VirtualRouterLinkLocal.Complete(Vips("fe80::1/64", "fd00::100/64"), 51, false)));
        Assert.Equal(["fe80::1/64", "fd00::100/64", "fd00::101/64"],
            Texts(VirtualRouterLinkLocal.Complete(Vips("fd00::100/64", "fe80::1/64", "fd00::101/64"), 51, false)));
        Assert.False(VirtualRouterLinkLocal.AddsAddress(Vips("fd00::100/64", "fe80::1/64"), unicast: false));
    }

    [Fact]
    public void IPv4_lists_and_unicast_instances_are_left_as_they_are()
    {
        Assert.Equal(["198.18.0.100/24"], Texts(VirtualRouterLinkLocal.Complete(Vips("198.18.0.100/24"), 51, false)));
        Assert.Equal(["fd00::100/64"], Texts(VirtualRouterLinkLocal.Complete(Vips("fd00::100/64"), 51, unicast: true)));
        Assert.False(VirtualRouterLinkLocal.AddsAddress(Vips("198.18.0.100/24"), unicast: false));
        Assert.False(VirtualRouterLinkLocal.AddsAddress(Vips("fd00::100/64"), unicast: true));
    }

    [Theory]
    [InlineData("fe80::1")]
    [InlineData("fe80::200:5eff:fe00:200")] // VRID 0 does not exist
    [InlineData("fe80::200:5eff:fe01:201")]
    [InlineData("fd00::200:5eff:fe00:201")]
    [InlineData("198.18.0.1")]
    public void Other_addresses_are_not_taken_for_an_added_one(string address) =>
        Assert.False(VirtualRouterLinkLocal.IsDerived(IPAddress.Parse(address)));
}
