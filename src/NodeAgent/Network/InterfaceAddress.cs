using System.Net;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// One address the kernel holds on an interface. <see cref="Address"/> has no scope id even when
/// link-local: the interface is <see cref="InterfaceIndex"/>. <see cref="IsOwned"/> means the address
/// carries <see cref="NetlinkAddressManager.OwnedProtocol"/>, i.e. this agent (or a crashed run of it) added it.
/// </summary>
public sealed record InterfaceAddress(int InterfaceIndex, IPAddress Address, int PrefixLength, byte Protocol, bool IsOwned)
{
    /// <summary>Kernel IFA_F_* flags (secondary, tentative, nodad, ...).</summary>
    public AddressFlags Flags { get; init; }
}

/// <summary>IFA_F_* from linux/if_addr.h.</summary>
[Flags]
public enum AddressFlags : uint
{
    None = 0,
    Secondary = 0x01,
    NoDad = 0x02,
    Optimistic = 0x04,
    DadFailed = 0x08,
    HomeAddress = 0x10,
    Deprecated = 0x20,
    Tentative = 0x40,
    Permanent = 0x80,
    ManageTemporaryAddress = 0x100,
    NoPrefixRoute = 0x200,
    MulticastAutoJoin = 0x400,
    StablePrivacy = 0x800,
}

/// <summary>An address that appeared (RTM_NEWADDR) or disappeared (RTM_DELADDR).</summary>
public sealed record AddressChange(bool Added, InterfaceAddress Address);
