namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// Why a received VRRP packet was discarded (RFC 5798 section 7.1, RFC 3768 section 7.1).
/// <see cref="VrrpPacket.TryRead"/> reports the structural reasons, <see cref="VrrpReceiveValidator"/>
/// the ones that depend on local configuration. Values are fixed: they name metric series.
/// </summary>
public enum VrrpDropReason
{
    Ok = 0,

    // Structure of the message itself (VrrpPacket.TryRead).
    Truncated = 1,
    LengthMismatch = 2,
    BadVersion = 3,
    BadType = 4,
    AddressFamilyMismatch = 5,
    ZeroAddressCount = 6,
    UnknownAuthType = 7,
    InvalidAdvertInterval = 8,
    BadChecksum = 9,

    // Checks against the local virtual router (VrrpReceiveValidator).
    BadTtl = 10,
    VersionMismatch = 11,
    UnknownVirtualRouterId = 12,
    LocalRouterIsAddressOwner = 13,
    AuthTypeMismatch = 14,
    AuthenticationFailed = 15,
    AddressCountMismatch = 16,
    AddressListMismatch = 17,
    AdvertIntervalMismatch = 18,
}

public static class VrrpDropReasonExtensions
{
    /// <summary>The highest defined value; sizes per-reason tables.</summary>
    internal const VrrpDropReason MaxValue = VrrpDropReason.AdvertIntervalMismatch;

    /// <summary>A log-ready sentence naming the field or rule that failed.</summary>
    public static string Describe(this VrrpDropReason reason) => reason switch
    {
        VrrpDropReason.Ok => "accepted",
        VrrpDropReason.Truncated => "message shorter than its fixed header, address list and authentication data",
        VrrpDropReason.LengthMismatch => "message longer than its 'Count IP Addrs' field implies",
        VrrpDropReason.BadVersion => "'Version' field is neither 2 nor 3",
        VrrpDropReason.BadType => "'Type' field is not 1 (ADVERTISEMENT)",
        VrrpDropReason.AddressFamilyMismatch => "address family does not fit (VRRPv2 over IPv6, source and destination families differ, or advertised addresses of the other family)",
        VrrpDropReason.ZeroAddressCount => "'Count IP Addrs' field is 0 (minimum is 1)",
        VrrpDropReason.UnknownAuthType => "VRRPv2 'Auth Type' field is not 0, 1 or 2",
        VrrpDropReason.InvalidAdvertInterval => "advertisement interval field is 0",
        VrrpDropReason.BadChecksum => "'Checksum' field does not verify",
        VrrpDropReason.BadTtl => "IP TTL / hop limit is not 255 (sent from off-link?)",
        VrrpDropReason.VersionMismatch => "VRRP version differs from the configured version",
        VrrpDropReason.UnknownVirtualRouterId => "'Virtual Rtr ID' is not the configured VRID",
        VrrpDropReason.LocalRouterIsAddressOwner => "the local router is the address owner (priority 255) of this VRID",
        VrrpDropReason.AuthTypeMismatch => "'Auth Type' differs from the configured authentication type",
        VrrpDropReason.AuthenticationFailed => "authentication data does not match the configured password",
        VrrpDropReason.AddressCountMismatch => "'Count IP Addrs' differs from the number of configured virtual addresses",
        VrrpDropReason.AddressListMismatch => "advertised addresses differ from the configured virtual addresses",
        VrrpDropReason.AdvertIntervalMismatch => "VRRPv2 'Adver Int' differs from the configured advertisement interval",
        _ => $"unknown drop reason {(int)reason}",
    };
}
