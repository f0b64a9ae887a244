using NginxHa.TestCluster.StandIn;

namespace NginxHa.TestCluster.Front;

/// <summary>A request path under a group version the stand-in serves (/api/v1/..., /apis/apps/v1/..., /apis/batch/v1/...).</summary>
public sealed record Route(ResourceKind? Kind, string? Namespace, string? Name, string? Subresource)
{
    /// <summary>Null when the path belongs to the real server; a route with no Kind for an unknown resource.</summary>
    public static Route? Parse(string path)
    {
        var parts = path.Trim('/').Split('/');
        string group, version;
        int rest;
        if (parts.Length >= 3 && parts[0] == "api" && parts[1] == "v1") (group, version, rest) = ("", "v1", 2);
        else if (parts.Length >= 4 && parts[0] == "apis" && ResourceKind.Groups.Contains(parts[1]) && parts[2] == "v1") (group, version, rest) = (parts[1], "v1", 3);
        else return null;
        var s = parts[rest..];
        // namespaces/NS/PLURAL[/NAME[/SUB]] when PLURAL is a namespaced kind; else PLURAL[/NAME[/SUB]]
        if (s.Length >= 3 && s[0] == "namespaces" && ResourceKind.Find(group, version, s[2]) is { Namespaced: true } namespaced)
            return s.Length <= 5 ? new(namespaced, s[1], s.Length > 3 ? s[3] : null, s.Length > 4 ? s[4] : null) : new(null, null, null, null);
        var kind = ResourceKind.Find(group, version, s[0]);
        if (kind is null || s.Length > 3 || (kind.Namespaced && s.Length > 1)) return new(null, null, null, null);
        return new(kind, null, s.Length > 1 ? s[1] : null, s.Length > 2 ? s[2] : null);
    }
}
