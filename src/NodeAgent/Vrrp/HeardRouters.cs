using System.Net;
using System.Net.Sockets;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// The virtual routers this node's speakers hear on the wire (any VRID, decoded adverts only), for the planner:
/// automatic VRIDs avoid foreign ones (docs/vrid-allocation.md), and for the node's status in Kubernetes mode. A router
/// not heard for <see cref="Forget"/> is gone. Kept per sender: two routers on one VRID (a conflict, or a failover
/// between our own nodes) are two entries, not one overwriting the other on every advert. Speakers record from their own threads; readers take snapshots.
/// <see cref="Changed"/> is raised when a router appears, is forgotten, or its adverts change (addresses, version,
/// priority, authentication type), not on every advert, so it can drive rate-limited status writes.
/// </summary>
public sealed class HeardRouters(TimeProvider time) : IDisposable
{
    public static readonly TimeSpan Forget = TimeSpan.FromMinutes(1);

    /// <summary>How often forgotten routers are looked for: one leaves within <see cref="Forget"/> plus this.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    sealed record Heard(IPAddress[] Addresses, VrrpVersion Version, byte Priority, VrrpAuthType AuthType)
    {
        public bool SameAs(Heard other) => Version == other.Version && Priority == other.Priority && AuthType == other.AuthType
                                           && Addresses.SequenceEqual(other.Addresses);
    }

    readonly Lock _gate = new();
    readonly Dictionary<(string Interface, AddressFamily Family, int Vrid, IPAddress Source), (Heard Advert, long At, DateTimeOffset AtUtc)> _heard = new();
    ITimer? _sweep;
    bool _disposed;

    /// <summary>Raised outside the lock, on the recording speaker's thread or the sweep timer's.</summary>
    public event Action? Changed;

    /// <param name="interfaceName">Where the advert arrived; "" when unknown.</param>
    /// <param name="source">Who sent it.</param>
    public void Record(string interfaceName, IPAddress source, VrrpAdvertisement advert)
    {
        // Only the type of authentication is kept: the password an advert carries is never stored or reported.
        var heard = new Heard(advert.Addresses.ToArray(), advert.Version, advert.Priority, advert.AuthType);
        bool changed;
        lock (_gate)
        {
            if (_disposed) return;
            var key = (interfaceName, source.AddressFamily, (int)advert.VirtualRouterId, source);
            changed = !_heard.TryGetValue(key, out var before) || !before.Advert.SameAs(heard);
            _heard[key] = (changed ? heard : before.Advert, time.GetTimestamp(), time.GetUtcNow());
            _sweep ??= time.CreateTimer(_ => Sweep(), null, SweepInterval, SweepInterval);
        }
        if (changed) Changed?.Invoke();
    }

    void Sweep()
    {
        bool changed;
        lock (_gate)
        {
            var now = time.GetTimestamp();
            var gone = _heard.Where(h => time.GetElapsedTime(h.Value.At, now) >= Forget).Select(h => h.Key).ToList();
            foreach (var key in gone) _heard.Remove(key);
            changed = gone.Count > 0;
            if (_heard.Count == 0)
            {
                _sweep?.Dispose();
                _sweep = null;
            }
        }
        if (changed) Changed?.Invoke();
    }

    /// <summary>For the planner: every router heard within <see cref="Forget"/>, by family and VRID.</summary>
    public IReadOnlyList<HeardVirtualRouter> Snapshot() =>
        Current().Select(h => new HeardVirtualRouter(FamilyName(h.Family), h.Vrid, h.Advert.Addresses.Select(a => a.ToString()).ToList(),
                (int)h.Advert.Version, ToStatus(h.Advert.AuthType), h.Interface.Length > 0 ? h.Interface : null, Source: h.Source.ToString()))
            .ToList();

    /// <summary>
    /// For NodeHaConfig status: every router heard within <see cref="Forget"/>, at most
    /// <see cref="NodeHaConfigStatus.MaxHeardRoutersPerFamily"/> per family (the most recently heard), sorted.
    /// </summary>
    public List<HeardRouterStatus> Report() =>
        Current()
            .GroupBy(h => h.Family)
            .SelectMany(f => f.OrderByDescending(h => h.At).Take(NodeHaConfigStatus.MaxHeardRoutersPerFamily))
            .OrderBy(h => h.Family).ThenBy(h => h.Vrid).ThenBy(h => h.Interface, StringComparer.Ordinal).ThenBy(h => h.Source.ToString(), StringComparer.Ordinal)
            .Select(h => new HeardRouterStatus
            {
                Interface = h.Interface.Length > 0 ? h.Interface : null,
                Source = h.Source.ToString(),
                Family = FamilyName(h.Family),
                VirtualRouterId = h.Vrid,
                Version = (int)h.Advert.Version,
                Addresses = h.Advert.Addresses.Select(a => a.ToString()).ToList(),
                Priority = h.Advert.Priority,
                AuthType = ToStatus(h.Advert.AuthType),
                LastHeard = h.AtUtc,
            })
            .ToList();

    List<(string Interface, AddressFamily Family, int Vrid, IPAddress Source, Heard Advert, long At, DateTimeOffset AtUtc)> Current()
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            return _heard.Where(h => time.GetElapsedTime(h.Value.At, now) < Forget)
                .Select(h => (h.Key.Interface, h.Key.Family, h.Key.Vrid, h.Key.Source, h.Value.Advert, h.Value.At, h.Value.AtUtc))
                .OrderBy(h => h.Family).ThenBy(h => h.Vrid).ThenBy(h => h.Interface, StringComparer.Ordinal)
                .ThenBy(h => h.Source.ToString(), StringComparer.Ordinal)
                .ToList();
        }
    }

    static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    static VrrpAuthenticationType ToStatus(VrrpAuthType type) => type switch
    {
        VrrpAuthType.SimpleText => VrrpAuthenticationType.SimpleText,
        VrrpAuthType.IpAuthenticationHeader => VrrpAuthenticationType.IpAuthenticationHeader,
        _ => VrrpAuthenticationType.None,
    };

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _sweep?.Dispose();
            _sweep = null;
        }
    }
}
