using System.Net;
using System.Net.NetworkInformation;

namespace NginxHa.NodeAgent.Network;

/// <summary>One address configured on an interface, as the selector sees it.</summary>
public readonly record struct ConfiguredAddress(string Interface, IPAddress Address, int PrefixLength);

/// <summary>Finds the interface a VIP belongs on when a group names none: the one whose subnet contains it.</summary>
public static class InterfaceSelector
{
    /// <summary>The interface with the longest matching prefix, or null (with the reason) when none or several tie.</summary>
    public static string? Select(IPAddress vip, IEnumerable<ConfiguredAddress> addresses, out string? reason)
    {
        var matches = addresses
            .Where(a => a.Address.AddressFamily == vip.AddressFamily && !a.Address.Equals(vip) && !IsLinkLocal(a.Address))
            .Where(a => new IPNetwork(Mask(a.Address, a.PrefixLength), a.PrefixLength).Contains(vip))
            .GroupBy(a => a.PrefixLength)
            .OrderByDescending(g => g.Key)
            .FirstOrDefault()?
            .Select(a => a.Interface).Distinct().ToArray() ?? [];
        reason = matches.Length switch
        {
            0 => $"no interface has an address in the same subnet as {vip}; set spec.interface",
            1 => null,
            _ => $"interfaces {string.Join(", ", matches)} all have a subnet containing {vip}; set spec.interface",
        };
        return matches.Length == 1 ? matches[0] : null;
    }

    /// <summary>The current network namespace's addresses (the I/O edge).</summary>
    public static IEnumerable<ConfiguredAddress> CurrentAddresses() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(nic => nic.GetIPProperties().UnicastAddresses
                .Select(u => new ConfiguredAddress(nic.Name, u.Address, u.PrefixLength)));

    static bool IsLinkLocal(IPAddress a) => a.IsIPv6LinkLocal || (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && a.GetAddressBytes()[0] == 169 && a.GetAddressBytes()[1] == 254);

    static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int bits = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }
        return new IPAddress(bytes);
    }
}
