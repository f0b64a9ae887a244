using NginxHa.NodeAgent.Network;

namespace NginxHa.NodeAgent.Node;

/// <summary>What the reconciler needs to know about the host: its interfaces' addresses (to choose a VIP's interface).</summary>
public interface IHostFacts
{
    IReadOnlyList<ConfiguredAddress> Addresses();
}

/// <summary>The current network namespace, read at every call.</summary>
public sealed class SystemHostFacts : IHostFacts
{
    public static readonly SystemHostFacts Instance = new();

    public IReadOnlyList<ConfiguredAddress> Addresses() => InterfaceSelector.CurrentAddresses().ToArray();
}
