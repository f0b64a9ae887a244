using NginxHa.NodeAgent.Network;

namespace NginxHa.NodeAgent.Tests.Network;

/// <summary>
/// What a VRRP instance's netlink watchers keep on the heap for their life: every instance has one of each, so a
/// buffer here is multiplied by the instance count (docs/benchmarks.md, "Agent cost": 64 KiB buffers were 2.7 MB at 10).
/// Real NETLINK_ROUTE sockets (no privilege needed to open and bind one).
/// </summary>
public sealed class NetlinkMemoryTests
{
    [Fact]
    public void An_instances_link_and_address_watchers_hold_their_read_buffers_only_and_no_reply_buffer()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var link = new NetlinkLinkWatcher(interfaceIndex: 1);
        using var addresses = new NetlinkAddressWatcher();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // 16 KiB (link notifications can carry a NIC's VF list) + 8 KiB (one address per notification) + the sockets.
        Assert.True(allocated < 40 * 1024, $"the two watchers allocated {allocated} bytes");
    }
}
