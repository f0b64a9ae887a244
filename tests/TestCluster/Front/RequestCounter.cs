using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.Front;

/// <summary>
/// Test-only: counts every request the front answers by client, verb and resource ("KubernetesClient patch-status
/// nodehaconfigs"), so a benchmark can tell how many API requests one change costs. GET /_testcluster/requests.
/// The client is the first word of the User-Agent (the product before '/').
/// </summary>
public sealed class RequestCounter
{
    readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public void Count(HttpRequest request)
    {
        var agent = request.Headers.UserAgent.ToString();
        var client = agent.Length == 0 ? "-" : agent.Split(' ', 2)[0].Split('/', 2)[0];
        var (verb, resource) = Classify(request.Method, request.Path.Value ?? "/", request.Query["watch"].ToString());
        _counts.AddOrUpdate($"{client} {verb} {resource}", 1, (_, n) => n + 1);
    }

    /// <summary>("list", "nodes") for GET /api/v1/nodes; ("patch-status", "nodehaconfigs") for a status patch; ("other", path) outside the API.</summary>
    public static (string Verb, string Resource) Classify(string method, string path, string watch)
    {
        var parts = path.Trim('/').Split('/');
        int rest;
        if (parts.Length >= 3 && parts[0] == "api") rest = 2;
        else if (parts.Length >= 4 && parts[0] == "apis") rest = 3;
        else return ("other", path);
        var s = parts[rest..];
        if (s.Length >= 3 && s[0] == "namespaces") s = s[2..]; // namespaces/NS/PLURAL...; a bare namespaces/NS is the Namespace itself
        var resource = s[0];
        var named = s.Length > 1;
        var sub = s.Length > 2 ? "-" + s[2] : "";
        var verb = method switch
        {
            "GET" when watch is "true" or "1" => "watch",
            "GET" => named ? "get" : "list",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => named ? "delete" : "deletecollection",
            _ => method.ToLowerInvariant(),
        };
        return (verb + sub, resource);
    }

    public JsonObject Snapshot()
    {
        var result = new JsonObject();
        foreach (var (key, count) in _counts.OrderBy(c => c.Key, StringComparer.Ordinal)) result[key] = count;
        return result;
    }
}
