using System.Net;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// At start, before any speaker runs: every address carrying our mark that the plan does not contain is removed
/// (an earlier run's, e.g. a VIP since deleted from the files); an address the plan wants that is already there
/// without our mark was not added by us: it is left alone and reported as a conflict. The speakers themselves
/// remove marked leftovers of their own VIPs.
/// </summary>
public static class AddressSweep
{
    public sealed record Decision(IReadOnlyList<InterfaceAddress> Remove, IReadOnlyList<InterfaceAddress> Conflicts);

    /// <summary>Pure: what to remove and what to report, from the addresses present and the VIPs planned.</summary>
    public static Decision Decide(IEnumerable<InterfaceAddress> present, IEnumerable<IPAddress> planned)
    {
        var wanted = planned.Select(Canonical).ToHashSet();
        var all = present.ToList();
        return new Decision(
            all.Where(a => a.IsOwned && !wanted.Contains(Canonical(a.Address))).ToList(),
            all.Where(a => !a.IsOwned && wanted.Contains(Canonical(a.Address))).ToList());
    }

    static IPAddress Canonical(IPAddress address) => new(address.GetAddressBytes());

    public static void AtStart(IEnumerable<InstancePlan> instances, Action<string> log)
    {
        try
        {
            Sweep(instances, log);
        }
        catch (Exception e) when (e is NetlinkException or IOException or InvalidDataException)
        {
            log($"warning: could not check this host's addresses for leftovers: {e.Message}");
        }
    }

    static void Sweep(IEnumerable<InstancePlan> instances, Action<string> log)
    {
        using var addresses = new NetlinkAddressManager();
        var decision = Decide(addresses.List(0), instances.SelectMany(i => i.VirtualAddresses).Select(v => v.Address));
        foreach (var address in decision.Remove)
        {
            log($"removing {address.Address}/{address.PrefixLength} (interface {address.InterfaceIndex}): it carries our mark, left by an earlier run, and the plan no longer has it");
            addresses.Remove(address.InterfaceIndex, address.Address, address.PrefixLength);
        }
        foreach (var address in decision.Conflicts)
            log($"conflict: VIP {address.Address} is already on interface {address.InterfaceIndex} without our mark: someone else added it; " +
                "it is left alone (never removed by this agent), and another host may answer for it too");
    }
}
