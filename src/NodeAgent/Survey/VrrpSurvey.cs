using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Survey;

/// <summary>
/// Who speaks VRRP on a segment: captured frames in, one <see cref="SurveyReport"/> out. Pure (no clock, no I/O):
/// the capture (<see cref="SurveyCapture"/>) feeds it frames with their capture time. <see cref="CapturedFrame"/> takes
/// the link and IP layers apart, our codec (<see cref="VrrpPacket"/>) the VRRP message.
/// </summary>
public sealed class VrrpSurvey
{
    readonly Dictionary<(AddressFamily Family, byte Vrid, IPAddress Source), SpeakerTally> _speakers = new();
    readonly Dictionary<(IPAddress Source, VrrpDropReason Reason), int> _undecodable = new();

    public int FramesSeen { get; private set; }

    /// <summary>Adds one captured frame of libpcap link type <paramref name="linkType"/>; frames that carry no VRRP
    /// message (other protocols) are counted and ignored.</summary>
    public void Add(int linkType, ReadOnlySpan<byte> frame, DateTime capturedAt)
    {
        FramesSeen++;
        if (CapturedFrame.TryReadIp(linkType, frame, VrrpPacket.IpProtocolNumber, out var ip))
            AddIpPayload(ip.Source, ip.Destination, ip.TtlOrHopLimit, ip.Payload, capturedAt);
    }

    /// <summary>Adds one VRRP message (the IP payload) with its IP header fields.</summary>
    public void AddIpPayload(IPAddress source, IPAddress destination, int ttl, ReadOnlySpan<byte> vrrp, DateTime capturedAt)
    {
        var reason = VrrpPacket.TryRead(vrrp, source, destination, out var advert);
        if (reason != VrrpDropReason.Ok || advert is null)
        {
            _undecodable[(source, reason)] = _undecodable.GetValueOrDefault((source, reason)) + 1;
            return;
        }
        var key = (source.AddressFamily, advert.VirtualRouterId, source);
        if (!_speakers.TryGetValue(key, out var tally)) _speakers[key] = tally = new SpeakerTally(capturedAt);
        tally.Add(advert, ttl, capturedAt);
    }

    public SurveyReport Report()
    {
        var routers = _speakers
            .GroupBy(s => (s.Key.Family, s.Key.Vrid))
            .OrderBy(g => g.Key.Family).ThenBy(g => g.Key.Vrid)
            .Select(g =>
            {
                var speakers = g.OrderBy(s => s.Value.First).ThenBy(s => s.Key.Source.ToString(), StringComparer.Ordinal)
                    .Select(s => s.Value.ToSpeaker(s.Key.Source)).ToList();
                return new HeardRouter(FamilyName(g.Key.Family), g.Key.Vrid, speakers, Conflicts(speakers));
            })
            .ToList();
        var undecodable = _undecodable
            .OrderBy(u => u.Key.Source.ToString(), StringComparer.Ordinal).ThenBy(u => u.Key.Reason)
            .Select(u => new UndecodableAdverts(u.Key.Source.ToString(), u.Key.Reason, u.Value))
            .ToList();
        return new SurveyReport(FramesSeen, routers, undecodable);
    }

    /// <summary>
    /// Conflicts among the routers heard for one VRID of one family. Only a master sends adverts, so two sources
    /// whose adverts (priority above 0) overlap in time for more than two advert intervals are two masters; a
    /// hand-over (the old master stops within an interval of the new one starting) is not.
    /// </summary>
    static List<SurveyConflict> Conflicts(IReadOnlyList<HeardSpeaker> speakers)
    {
        var conflicts = new List<SurveyConflict>();
        if (speakers.Count < 2) return conflicts;
        if (speakers.Select(s => AddressKey(s.VirtualAddresses)).Distinct().Count() > 1)
            conflicts.Add(new SurveyConflict(SurveyConflictKind.DifferentAddresses,
                string.Join("; ", speakers.Select(s => $"{s.Source} sends [{string.Join(", ", s.VirtualAddresses)}]"))));
        if (speakers.Select(s => s.Version).Distinct().Count() > 1)
            conflicts.Add(new SurveyConflict(SurveyConflictKind.DifferentVersion,
                string.Join("; ", speakers.Select(s => $"{s.Source} speaks v{(int)s.Version}"))));
        if (speakers.Select(s => s.Authentication).Distinct().Count() > 1)
            conflicts.Add(new SurveyConflict(SurveyConflictKind.DifferentAuthentication,
                string.Join("; ", speakers.Select(s => $"{s.Source} uses {AuthName(s.Authentication)}"))));
        for (int i = 0; i < speakers.Count; i++)
        for (int j = i + 1; j < speakers.Count; j++)
        {
            var (a, b) = (speakers[i], speakers[j]);
            if (a.MasterFrom is not { } af || b.MasterFrom is not { } bf) continue;
            var overlap = Min(a.MasterUntil!.Value, b.MasterUntil!.Value) - Max(af, bf);
            var allowed = 2 * Max(a.AdvertInterval, b.AdvertInterval);
            if (overlap > allowed)
                conflicts.Add(new SurveyConflict(SurveyConflictKind.TwoMasters,
                    $"{a.Source} (priority {a.Priority}) and {b.Source} (priority {b.Priority}) both advertised for {overlap.TotalSeconds:0.###} s"));
        }
        return conflicts;
    }

    static string AddressKey(IReadOnlyList<string> addresses) => string.Join(",", addresses.Order(StringComparer.Ordinal));
    static T Min<T>(T a, T b) where T : IComparable<T> => a.CompareTo(b) <= 0 ? a : b;
    static T Max<T>(T a, T b) where T : IComparable<T> => a.CompareTo(b) >= 0 ? a : b;

    public static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    public static string AuthName(VrrpAuthType auth) => auth switch
    {
        VrrpAuthType.None => "none",
        VrrpAuthType.SimpleText => "PASS",
        VrrpAuthType.IpAuthenticationHeader => "AH",
        _ => $"type {(int)auth}",
    };

    sealed class SpeakerTally(DateTime first)
    {
        VrrpAdvertisement? _last;
        int _adverts;
        int _ttl;
        byte _lowestPriority = byte.MaxValue, _highestPriority;
        DateTime _lastAt = first;
        DateTime? _masterFrom, _masterUntil;

        public DateTime First { get; } = first;

        public void Add(VrrpAdvertisement advert, int ttl, DateTime at)
        {
            _last = advert;
            _adverts++;
            _ttl = ttl;
            _lastAt = at;
            _lowestPriority = Math.Min(_lowestPriority, advert.Priority);
            _highestPriority = Math.Max(_highestPriority, advert.Priority);
            if (advert.Priority == 0) return; // "I am leaving": not a master's advert
            _masterFrom ??= at;
            _masterUntil = at;
        }

        public HeardSpeaker ToSpeaker(IPAddress source) => new(
            source.ToString(), _last!.Version, _last.Priority, _lowestPriority, _highestPriority, _last.AdvertInterval,
            _last.Addresses.Select(a => a.ToString()).ToList(), _last.AuthType, _ttl, _adverts, First, _lastAt,
            _masterFrom, _masterUntil);
    }
}

/// <summary>What a survey heard: every virtual router by family and VRID, and what could not be decoded.</summary>
public sealed record SurveyReport(int FramesSeen, IReadOnlyList<HeardRouter> Routers, IReadOnlyList<UndecodableAdverts> Undecodable)
{
    public int ConflictCount => Routers.Sum(r => r.Conflicts.Count);
}

/// <summary>One VRID of one family (IPv4 v2 and v3 share a VRID space and virtual MAC; IPv6 has its own).</summary>
public sealed record HeardRouter(string Family, int Vrid, IReadOnlyList<HeardSpeaker> Speakers, IReadOnlyList<SurveyConflict> Conflicts);

/// <summary>One source sending adverts for a VRID. Priority, interval, addresses and authentication are its last advert's.</summary>
public sealed record HeardSpeaker(
    string Source,
    VrrpVersion Version,
    int Priority,
    int LowestPriority,
    int HighestPriority,
    TimeSpan AdvertInterval,
    IReadOnlyList<string> VirtualAddresses,
    VrrpAuthType Authentication,
    int Ttl,
    int Adverts,
    DateTime FirstHeard,
    DateTime LastHeard,
    DateTime? MasterFrom,
    DateTime? MasterUntil);

public enum SurveyConflictKind
{
    /// <summary>The same VRID advertised with different virtual addresses: two groups collide on one virtual MAC.</summary>
    DifferentAddresses,
    /// <summary>Two sources advertising at the same time: both believe they are master (split brain or a VRID clash).</summary>
    TwoMasters,
    /// <summary>v2 and v3 on one VRID: they do not understand each other's adverts.</summary>
    DifferentVersion,
    /// <summary>Different authentication types on one VRID: each drops the other's adverts.</summary>
    DifferentAuthentication,
}

public sealed record SurveyConflict(SurveyConflictKind Kind, string Detail);

/// <summary>IP protocol 112 packets our codec refused, by source and reason.</summary>
public sealed record UndecodableAdverts(string Source, VrrpDropReason Reason, int Count);
