using System.Net;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Watchdog;

/// <summary>What the watchdog needs to hand an instance over without the agent: enough to send its priority-0 advert.</summary>
public sealed record HandoverInstance(string Name, string Interface, VrrpVersion Version, byte VirtualRouterId, TimeSpan AdvertInterval,
    IReadOnlyList<VirtualIp> VirtualAddresses, IReadOnlyList<IPAddress> UnicastPeers, ReadOnlyMemory<byte> AuthData)
{
    /// <summary>A v2 PASS instance keeps its resolved password (from a file or a Kubernetes Secret): without it the
    /// peer drops the watchdog's priority-0 advert and takes over only after Master_Down_Interval.</summary>
    public static HandoverInstance From(InstancePlan plan) => new(plan.Name, plan.Interface, plan.Version, plan.VirtualRouterId,
        plan.AdvertInterval, plan.VirtualAddresses, plan.UnicastPeers, plan.AuthData);
}

/// <summary>
/// The agent's running instances, in its state dir (mode 0600, like the last applied config that holds the same
/// passwords), rewritten after every apply. One tab-separated line per instance: name, interface, version, VRID,
/// advert interval in ms, VIPs (space-separated), unicast peers (comma-separated or "-"), "pass:" + the base64 of the
/// 8 authentication bytes of a v2 PASS instance, or "-".
/// </summary>
public static class HandoverRecord
{
    public const string FileName = "watchdog.instances";
    const string AuthPrefix = "pass:";

    /// <summary>Null, or why the record could not be written (the watchdog then works from the previous one).</summary>
    public static string? Write(string stateDirectory, IEnumerable<InstancePlan> instances)
    {
        var path = Path.Combine(stateDirectory, FileName);
        var temporary = path + ".new";
        try
        {
            File.WriteAllLines(temporary, instances.Select(HandoverInstance.From).Select(i => string.Join('\t',
            i.Name, i.Interface, (int)i.Version, i.VirtualRouterId, (long)i.AdvertInterval.TotalMilliseconds,
            string.Join(' ', i.VirtualAddresses), i.UnicastPeers.Count == 0 ? "-" : string.Join(',', i.UnicastPeers),
            i.AuthData.IsEmpty ? "-" : AuthPrefix + Convert.ToBase64String(i.AuthData.Span))));
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temporary, path, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"could not write the watchdog's record {path}: {e.Message}";
        }
    }

    /// <summary>Every well-formed line; a damaged one is reported through <paramref name="problems"/> and skipped.</summary>
    public static IReadOnlyList<HandoverInstance> Read(string stateDirectory, List<string> problems)
    {
        var path = Path.Combine(stateDirectory, FileName);
        if (!File.Exists(path)) return [];
        var instances = new List<HandoverInstance>();
        var number = 0;
        foreach (var line in File.ReadAllLines(path))
        {
            number++;
            var f = line.Split('\t');
            var vips = f.Length == 8 ? f[5].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select<string, VirtualIp?>(t => VirtualIp.TryParse(t, out var v, out _) ? v : null).ToList() : [];
            var peers = f.Length == 8 && f[6] != "-" ? f[6].Split(',').Select<string, IPAddress?>(t => IPAddress.TryParse(t, out var a) ? a : null).ToList() : [];
            var auth = f.Length == 8 ? ParseAuth(f[7]) : null;
            if (f.Length != 8 || auth is null || !int.TryParse(f[2], out var version) || version is not (2 or 3) || !byte.TryParse(f[3], out var vrid)
                || !long.TryParse(f[4], out var ms) || ms <= 0 || vips.Count == 0 || vips.Contains(null) || peers.Contains(null))
            {
                problems.Add($"{path}:{number}: not a handover record; skipped");
                continue;
            }
            instances.Add(new HandoverInstance(f[0], f[1], (VrrpVersion)version, vrid, TimeSpan.FromMilliseconds(ms),
                vips.Select(v => v!.Value).ToList(), peers.Select(p => p!).ToList(), auth.Value));
        }
        return instances;
    }

    /// <summary>The authentication bytes of the last field ("-" is none), or null when the field is damaged.</summary>
    static ReadOnlyMemory<byte>? ParseAuth(string field)
    {
        if (field == "-") return ReadOnlyMemory<byte>.Empty;
        var bytes = new byte[VrrpPacket.AuthDataLength];
        if (!field.StartsWith(AuthPrefix, StringComparison.Ordinal)
            || !Convert.TryFromBase64String(field[AuthPrefix.Length..], bytes, out var written) || written != bytes.Length)
            return null;
        return bytes;
    }
}
