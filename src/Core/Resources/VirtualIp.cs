using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NginxHa.Core.Resources;

/// <summary>A virtual IP address with its prefix length, parsed strictly from "address[/prefix]".</summary>
public readonly record struct VirtualIp(IPAddress Address, int PrefixLength)
{
    public bool IsIPv6 => Address.AddressFamily == AddressFamily.InterNetworkV6;
    public string Family => IsIPv6 ? "IPv6" : "IPv4";

    public override string ToString() => $"{Address}/{PrefixLength}";

    /// <summary>Parses "198.18.0.10", "198.18.0.10/24", "fd00::10/64". On failure, reason completes the
    /// sentence "&lt;value&gt; ...", e.g. "is not an IP address".</summary>
    public static bool TryParse(string text, out VirtualIp value, [NotNullWhen(false)] out string? reason)
    {
        value = default;
        var slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (!TryParseAddress(addressText, out var address))
        {
            reason = "is not an IP address";
            return false;
        }

        var maxPrefix = address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        var prefix = maxPrefix;
        if (slash >= 0)
        {
            var prefixText = text[(slash + 1)..];
            if (prefixText.Length is 0 or > 3 || !prefixText.All(char.IsAsciiDigit)
                || !int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix))
            {
                reason = "has a prefix length that is not a number";
                return false;
            }
            if (prefix < 1 || prefix > maxPrefix)
            {
                reason = $"has prefix length {prefix}, which must be 1..{maxPrefix} for {(maxPrefix == 32 ? "IPv4" : "IPv6")}";
                return false;
            }
        }

        if ((UnusableReason(address) ?? SubnetReservedReason(address, prefix)) is { } unusable)
        {
            reason = unusable;
            return false;
        }

        value = new VirtualIp(address, prefix);
        reason = null;
        return true;
    }

    /// <summary>Strict address parsing: IPAddress.Parse alone accepts "1" or "1.2.3" as IPv4 and zone ids.</summary>
    public static bool TryParseAddress(string text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.Contains('%') || text.Length == 0) return false;
        if (text.Contains(':'))
            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;

        var parts = text.Split('.');
        if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)
                                               || int.Parse(p, CultureInfo.InvariantCulture) > 255))
            return false;
        return IPAddress.TryParse(text, out address);
    }

    /// <summary>
    /// The subnet's own address (all host bits 0: the network address, in IPv6 the subnet-router anycast address) and,
    /// in IPv4, its broadcast address (all host bits 1) are not addresses of a host. /31 and /32 (RFC 3021), /127 and
    /// /128 have no such addresses.
    /// </summary>
    public static string? SubnetReservedReason(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        var hostBits = bytes.Length * 8 - prefix;
        if (hostBits < 2) return null;
        bool allZero = true, allOne = true;
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            var set = (bytes[bit / 8] & (0x80 >> (bit % 8))) != 0;
            allZero &= !set;
            allOne &= set;
        }
        var subnet = new IPNetwork(Masked(bytes, prefix), prefix);
        if (allZero)
            return address.AddressFamily == AddressFamily.InterNetwork
                ? $"is the network address of {subnet}, not a host address"
                : $"is the subnet-router anycast address of {subnet} (RFC 4291), not a host address";
        if (allOne && address.AddressFamily == AddressFamily.InterNetwork)
            return $"is the broadcast address of {subnet}, not a host address";
        return null;
    }

    private static IPAddress Masked(byte[] bytes, int prefix)
    {
        var masked = (byte[])bytes.Clone();
        for (var i = 0; i < masked.Length; i++)
            masked[i] &= (byte)(0xFF << (8 - Math.Clamp(prefix - i * 8, 0, 8)));
        return new IPAddress(masked);
    }

    private static string? UnusableReason(IPAddress address)
    {
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) return "is the unspecified address";
        if (address.Equals(IPAddress.Broadcast)) return "is the broadcast address";
        if (IPAddress.IsLoopback(address)) return "is a loopback address";
        if (address.IsIPv6Multicast) return "is a multicast address";
        if (address.AddressFamily == AddressFamily.InterNetwork && (address.GetAddressBytes()[0] & 0xF0) == 0xE0)
            return "is a multicast address";
        if (address.IsIPv4MappedToIPv6) return "is an IPv4-mapped IPv6 address; write the IPv4 address";
        return null;
    }
}
