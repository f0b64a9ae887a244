using System.Net;
using System.Net.Sockets;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// The parameters of one virtual router that drive its state machine (RFC 5798 / RFC 3768 section 6.1).
/// <see cref="PrimaryAddress"/> is our advert source address; it breaks priority ties (higher wins).
/// <see cref="PreemptDelay"/> follows keepalived: after startup (or leaving Fault) a backup does not
/// preempt a lower-priority master until the delay has elapsed.
/// </summary>
public sealed record VrrpInstanceConfig(
    VrrpVersion Version,
    byte VirtualRouterId,
    byte Priority,
    TimeSpan AdvertInterval,
    IPAddress PrimaryAddress,
    bool Preempt = true,
    TimeSpan PreemptDelay = default)
{
    /// <summary>RFC 5798 section 5.2.4: the router that owns the virtual addresses.</summary>
    public const byte AddressOwnerPriority = 255;

    /// <summary>RFC 5798 section 5.2.4: "the current Master has stopped participating in VRRP".</summary>
    public const byte StopParticipatingPriority = 0;

    public const byte MinVirtualRouterId = 1;
    public const byte MinPriority = 1;

    /// <summary>RFC 3768 section 5.3.7: Adver Int is an 8-bit count of seconds.</summary>
    public static readonly TimeSpan MaxV2AdvertInterval = TimeSpan.FromSeconds(byte.MaxValue);

    /// <summary>RFC 5798 section 5.2.7: Max Adver Int is a 12-bit count of centiseconds.</summary>
    public static readonly TimeSpan Centisecond = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan MaxV3AdvertInterval = 0xFFF * Centisecond;

    public bool IsAddressOwner => Priority == AddressOwnerPriority;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (Version is not (VrrpVersion.V2 or VrrpVersion.V3))
            throw new ArgumentException($"Version must be 2 or 3, got {(int)Version}.", nameof(Version));
        if (VirtualRouterId < MinVirtualRouterId)
            throw new ArgumentException($"VirtualRouterId must be 1..255, got {VirtualRouterId}.", nameof(VirtualRouterId));
        if (Priority < MinPriority)
            throw new ArgumentException(
                $"Priority must be 1..255, got {Priority} (0 is reserved for a master that stops participating).",
                nameof(Priority));
        if (PrimaryAddress is null)
            throw new ArgumentException("PrimaryAddress is required.", nameof(PrimaryAddress));
        if (PrimaryAddress.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            throw new ArgumentException($"PrimaryAddress must be IPv4 or IPv6, got {PrimaryAddress.AddressFamily}.", nameof(PrimaryAddress));

        if (Version == VrrpVersion.V2)
        {
            if (PrimaryAddress.AddressFamily != AddressFamily.InterNetwork)
                throw new ArgumentException($"PrimaryAddress must be IPv4 for VRRPv2 (RFC 3768), got {PrimaryAddress}.", nameof(PrimaryAddress));
            if (AdvertInterval < TimeSpan.FromSeconds(1) || AdvertInterval > MaxV2AdvertInterval
                || AdvertInterval.Ticks % TimeSpan.TicksPerSecond != 0)
                throw new ArgumentException(
                    $"AdvertInterval must be whole seconds 1..255 for VRRPv2, got {AdvertInterval}.", nameof(AdvertInterval));
        }
        else if (AdvertInterval < Centisecond || AdvertInterval > MaxV3AdvertInterval
                 || AdvertInterval.Ticks % Centisecond.Ticks != 0)
        {
            throw new ArgumentException(
                $"AdvertInterval must be 10 ms..40.95 s in whole centiseconds for VRRPv3, got {AdvertInterval}.",
                nameof(AdvertInterval));
        }

        if (PreemptDelay < TimeSpan.Zero)
            throw new ArgumentException($"PreemptDelay must not be negative, got {PreemptDelay}.", nameof(PreemptDelay));
    }
}
