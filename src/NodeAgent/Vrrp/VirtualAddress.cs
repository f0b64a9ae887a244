using System.Net;
using System.Net.Sockets;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// A virtual IP with the prefix length it is bound with. Not an <see cref="IPNetwork"/>: a VIP is a host
/// address inside its subnet, whose host bits IPNetwork would reject.
/// </summary>
public readonly record struct VirtualAddress(IPAddress Address, int PrefixLength)
{
    public AddressFamily Family => Address.AddressFamily;

    public override string ToString() => $"{Address}/{PrefixLength}";
}
