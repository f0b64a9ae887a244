using System.Net;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>Protocol version on the wire: RFC 3768 (v2, IPv4 only) or RFC 5798 (v3, IPv4 and IPv6).</summary>
public enum VrrpVersion : byte
{
    V2 = 2,
    V3 = 3,
}

/// <summary>RFC 5798 section 6.4 states, plus keepalived's FAULT (the node cannot serve, e.g. nginx is down).</summary>
public enum VrrpState
{
    Initialize,
    Backup,
    Master,
    Fault,
}

/// <summary>RFC 3768 section 5.3.6 authentication types (v2 only; v3 has none).</summary>
public enum VrrpAuthType : byte
{
    None = 0,
    SimpleText = 1,
    IpAuthenticationHeader = 2,
}

/// <summary>
/// One VRRP advertisement, decoded or to be encoded. <see cref="AdvertInterval"/> is carried as whole
/// seconds in v2 and as centiseconds (12 bits) in v3. <see cref="AuthData"/> is the 8-byte v2
/// authentication field (empty for v3 and for auth type None).
/// </summary>
public sealed record VrrpAdvertisement(
    VrrpVersion Version,
    byte VirtualRouterId,
    byte Priority,
    TimeSpan AdvertInterval,
    IReadOnlyList<IPAddress> Addresses,
    VrrpAuthType AuthType = VrrpAuthType.None,
    ReadOnlyMemory<byte> AuthData = default);
