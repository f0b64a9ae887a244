using System.Text.Json;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Network;

/// <summary>What iproute2 reports, read from its JSON output: the independent view the tests compare against.</summary>
internal static class IpJson
{
    public sealed record Address(string Family, string Local, int PrefixLength, bool NoDad, bool Secondary, bool Tentative);

    public static IReadOnlyList<Address> Addresses(LabNode node, string device)
    {
        string json = node.Exec("ip", "-j", "addr", "show", "dev", device).StandardOutput;
        using var document = JsonDocument.Parse(json);
        var result = new List<Address>();
        foreach (var link in document.RootElement.EnumerateArray())
        {
            foreach (var info in link.GetProperty("addr_info").EnumerateArray())
            {
                result.Add(new Address(
                    info.GetProperty("family").GetString()!,
                    info.GetProperty("local").GetString()!,
                    info.GetProperty("prefixlen").GetInt32(),
                    Flag(info, "nodad"),
                    Flag(info, "secondary"),
                    Flag(info, "tentative")));
            }
        }
        return result;
    }

    /// <summary>The link-layer address of a neighbour entry, or null when there is none.</summary>
    public static string? NeighbourMac(LabNode node, string address, string device)
    {
        string json = node.Exec("ip", "-j", "neigh", "show", address, "dev", device).StandardOutput;
        using var document = JsonDocument.Parse(json);
        foreach (var entry in document.RootElement.EnumerateArray())
        {
            if (entry.TryGetProperty("lladdr", out var mac))
                return mac.GetString();
        }
        return null;
    }

    private static bool Flag(JsonElement info, string name) =>
        info.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
