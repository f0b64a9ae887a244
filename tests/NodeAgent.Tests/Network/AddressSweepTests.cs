using System.Net;
using NginxHa.NodeAgent.Network;

namespace NginxHa.NodeAgent.Tests.Network;

/// <summary>At start: our marked leftovers not in the plan go; an address we did not add is never removed.</summary>
public sealed class AddressSweepTests
{
    static InterfaceAddress Address(string text, bool owned, int ifIndex = 2) =>
        new(ifIndex, IPAddress.Parse(text), 24, owned ? NetlinkAddressManager.OwnedProtocol : (byte)0, owned);

    [Fact]
    public void MarkedAddressesOutsideThePlanAreRemovedAndUnmarkedPlannedOnesAreConflicts()
    {
        var present = new[]
        {
            Address("198.18.0.11", owned: false),             // the host's own address
            Address("198.18.0.201", owned: true),             // planned, ours: the speaker handles it
            Address("198.18.0.203", owned: true, ifIndex: 3), // ours, no longer planned, on another interface
            Address("198.18.0.202", owned: false),            // planned, but someone else added it
            Address("198.18.0.99", owned: false),             // someone else's, not planned
        };

        var decision = AddressSweep.Decide(present, [IPAddress.Parse("198.18.0.201"), IPAddress.Parse("198.18.0.202")]);

        Assert.Equal(["198.18.0.203"], decision.Remove.Select(a => a.Address.ToString()));
        Assert.Equal(["198.18.0.202"], decision.Conflicts.Select(a => a.Address.ToString()));
    }

    [Fact]
    public void IPv6PlannedWithAScopeMatchesTheKernelsAddress()
    {
        var decision = AddressSweep.Decide([Address("fd00::5", owned: true)], [new IPAddress(IPAddress.Parse("fd00::5").GetAddressBytes(), 4)]);

        Assert.Empty(decision.Remove);
    }
}
