using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NginxHa.Core.Resources;
using NginxHa.Core.Text;

namespace NginxHa.NodeAgent.Kubernetes;

/// <summary>A NodeHaConfig as the API server holds it, with the metadata the agent follows.</summary>
public sealed record NodeHaConfigObject(NodeHaConfig Config, long Generation, string ResourceVersion);

/// <summary>One watch event: ADDED, MODIFIED, DELETED, BOOKMARK (Object null), or ERROR (Code set).</summary>
public sealed record NodeHaConfigWatchEvent(string Type, NodeHaConfigObject? Object, string? ResourceVersion, int? Code, string? Message);

/// <summary>A Secret's data (decoded) and its resourceVersion, to watch it from.</summary>
public sealed record SecretObject(IReadOnlyDictionary<string, byte[]> Data, string ResourceVersion)
{
    public override string ToString() => $"SecretObject({Data.Count} key(s), resourceVersion {ResourceVersion})";
}

/// <summary>One event of a Secret's watch: only its kind and resourceVersion matter (the source reads the Secret again).</summary>
public sealed record SecretWatchEvent(string Type, string? ResourceVersion, int? Code, string? Message);

/// <summary>The API server answered with an error status.</summary>
public sealed class KubeApiException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>
/// The calls the agent makes, over plain HTTP/1.1 and System.Text.Json source generation (KubernetesClient's
/// reflection JSON does not trim): list/watch one NodeHaConfig, get and watch one Secret, merge-patch a NodeHaConfig's
/// status, create and patch an Event, and get/create/replace its heartbeat Lease.
/// </summary>
public sealed class KubeApiClient : IDisposable
{
    const string Resource = "/apis/" + ApiGroup.Group + "/" + ApiGroup.Version + "/nodehaconfigs";
    readonly KubeConnection _connection;
    readonly HttpClient _http;

    public KubeApiClient(KubeConnection connection)
    {
        _connection = connection;
        _http = new HttpClient(connection.CreateHandler()) { BaseAddress = connection.Server, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>How long one request may take (a watch: its server-side timeout plus this).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(15);

    static string Selector(string name) => "fieldSelector=" + Uri.EscapeDataString($"metadata.name={name}");

    /// <summary>The named NodeHaConfig (null when there is none) and the list's resourceVersion to watch from.</summary>
    public async Task<(NodeHaConfigObject? Object, string ResourceVersion)> ListNodeHaConfigAsync(string name, CancellationToken cancellationToken)
    {
        var list = await SendForJsonAsync(HttpMethod.Get, $"{Resource}?{Selector(name)}", null, cancellationToken);
        var rv = (string?)list["metadata"]?["resourceVersion"] ?? throw new InvalidDataException("list: no metadata.resourceVersion");
        var item = list["items"]?.AsArray().FirstOrDefault(i => (string?)i?["metadata"]?["name"] == name);
        return (item is null ? null : ToObject(item), rv);
    }

    /// <summary>Watch events of the named NodeHaConfig after <paramref name="resourceVersion"/>, until the server ends the watch.</summary>
    public async IAsyncEnumerable<NodeHaConfigWatchEvent> WatchNodeHaConfigAsync(string name, string resourceVersion, TimeSpan serverTimeout,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (type, obj) in WatchOneAsync(Resource, name, resourceVersion, serverTimeout, cancellationToken))
        {
            yield return type switch
            {
                "ERROR" => new NodeHaConfigWatchEvent(type, null, null, (int?)obj?["code"], (string?)obj?["message"]),
                "BOOKMARK" => new NodeHaConfigWatchEvent(type, null, (string?)obj?["metadata"]?["resourceVersion"], null, null),
                _ when obj is not null => new NodeHaConfigWatchEvent(type, ToObject(obj), (string?)obj["metadata"]?["resourceVersion"], null, null),
                _ => throw new InvalidDataException($"watch: a {type} event without an object"),
            };
        }
    }

    /// <summary>
    /// The raw events (type, object) of a watch on one object of <paramref name="collection"/> (a metadata.name field
    /// selector), after <paramref name="resourceVersion"/>, until the server ends the watch.
    /// </summary>
    async IAsyncEnumerable<(string Type, JsonNode? Object)> WatchOneAsync(string collection, string name, string resourceVersion,
        TimeSpan serverTimeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A watch that goes silent without closing must not hang forever: the client gives up a little after the server should have.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(serverTimeout + RequestTimeout);
        var path = $"{collection}?watch=true&allowWatchBookmarks=true&{Selector(name)}&resourceVersion={Uri.EscapeDataString(resourceVersion)}" +
                   $"&timeoutSeconds={(int)serverTimeout.TotalSeconds}";
        using var request = Request(HttpMethod.Get, path, null);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        await EnsureSuccessAsync(response, deadline.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(deadline.Token), Encoding.UTF8);
        while (await reader.ReadLineAsync(deadline.Token) is { } line)
        {
            if (line.Length == 0) continue;
            var e = JsonNode.Parse(line) ?? throw new InvalidDataException("watch: an empty event");
            yield return ((string?)e["type"] ?? "", e["object"]);
        }
    }

    /// <summary>A Secret's data (decoded), or null when the Secret does not exist.</summary>
    public async Task<IReadOnlyDictionary<string, byte[]>?> GetSecretDataAsync(string ns, string name, CancellationToken cancellationToken) =>
        (await GetSecretAsync(ns, name, cancellationToken))?.Data;

    static string Secrets(string ns) => $"/api/v1/namespaces/{Uri.EscapeDataString(ns)}/secrets";

    /// <summary>A Secret (null when it does not exist). A value that is not base64 fails with InvalidDataException naming the key.</summary>
    public async Task<SecretObject?> GetSecretAsync(string ns, string name, CancellationToken cancellationToken)
    {
        JsonNode secret;
        try
        {
            secret = await SendForJsonAsync(HttpMethod.Get, $"{Secrets(ns)}/{Uri.EscapeDataString(name)}", null, cancellationToken);
        }
        catch (KubeApiException ex) when (ex.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
        var data = new Dictionary<string, byte[]>();
        if (secret["data"] is JsonObject fields)
            foreach (var (key, value) in fields)
                if ((string?)value is { } b64)
                {
                    try
                    {
                        data[key] = Convert.FromBase64String(b64);
                    }
                    catch (FormatException)
                    {
                        throw new InvalidDataException($"Secret {ns}/{name}: data.{SafeText.Escape(key, 100)} is not base64");
                    }
                }
        return new SecretObject(data, (string?)secret["metadata"]?["resourceVersion"] ?? "");
    }

    /// <summary>
    /// Changes of one Secret after <paramref name="resourceVersion"/> (a watch with a metadata.name field selector: RBAC
    /// verb watch, no list), until the server ends the watch. The events carry no data: the caller reads the Secret again.
    /// </summary>
    public async IAsyncEnumerable<SecretWatchEvent> WatchSecretAsync(string ns, string name, string resourceVersion, TimeSpan serverTimeout,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (type, obj) in WatchOneAsync(Secrets(ns), name, resourceVersion, serverTimeout, cancellationToken))
        {
            yield return type == "ERROR"
                ? new SecretWatchEvent(type, null, (int?)obj?["code"], (string?)obj?["message"])
                : new SecretWatchEvent(type, (string?)obj?["metadata"]?["resourceVersion"], null, null);
        }
    }

    /// <summary>Creates an events.k8s.io/v1 Event about a cluster-scoped object (it lives in namespace "default").</summary>
    public async Task CreateEventAsync(AgentEvent e, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["apiVersion"] = "events.k8s.io/v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["name"] = e.Name, ["namespace"] = AgentEvent.Namespace },
            ["eventTime"] = e.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture),
            ["reportingController"] = AgentEvent.Controller,
            ["reportingInstance"] = e.Instance,
            ["action"] = e.Action,
            ["reason"] = e.Reason,
            ["type"] = e.Type,
            ["note"] = e.Note,
            ["regarding"] = new JsonObject
            {
                ["apiVersion"] = ApiGroup.ApiVersion, ["kind"] = NodeHaConfig.KindName, ["name"] = e.Regarding,
            },
        };
        var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        await SendForJsonAsync(HttpMethod.Post, $"/apis/events.k8s.io/v1/namespaces/{AgentEvent.Namespace}/events", content, cancellationToken);
    }

    /// <summary>Counts one more occurrence in an Event's series (what client-go's recorder does instead of a new Event).</summary>
    public async Task PatchEventSeriesAsync(string name, int count, DateTimeOffset last, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["series"] = new JsonObject
            {
                ["count"] = count,
                ["lastObservedTime"] = last.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture),
            },
        };
        var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/merge-patch+json");
        await SendForJsonAsync(HttpMethod.Patch, $"/apis/events.k8s.io/v1/namespaces/{AgentEvent.Namespace}/events/{Uri.EscapeDataString(name)}", content, cancellationToken);
    }

    /// <summary>Replaces the NodeHaConfig's status (merge patch on the status subresource; lists are replaced whole).</summary>
    public async Task PatchNodeHaConfigStatusAsync(string name, NodeHaConfigStatus status, CancellationToken cancellationToken)
    {
        var patch = JsonSerializer.SerializeToNode(new StatusPatch(status), KubeJsonContext.Default.StatusPatch)!;
        // A merge patch keeps fields it leaves out: an error that is gone must be written as null to be cleared.
        if (patch["status"]?["nginx"] is JsonObject nginx && !nginx.ContainsKey("lastError")) nginx["lastError"] = null;
        var content = new StringContent(patch.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/merge-patch+json");
        await SendForJsonAsync(HttpMethod.Patch, $"{Resource}/{Uri.EscapeDataString(name)}/status", content, cancellationToken);
    }

    static string LeasePath(string ns, string? name = null) =>
        $"/apis/coordination.k8s.io/v1/namespaces/{Uri.EscapeDataString(ns)}/leases" + (name is null ? "" : "/" + Uri.EscapeDataString(name));

    /// <summary>The Lease as the server holds it, or null when there is none.</summary>
    public async Task<JsonObject?> GetLeaseAsync(string ns, string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await SendForJsonAsync(HttpMethod.Get, LeasePath(ns, name), null, cancellationToken)).AsObject();
        }
        catch (KubeApiException ex) when (ex.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Creates the Lease (409 Conflict when it exists).</summary>
    public async Task<JsonObject> CreateLeaseAsync(string ns, JsonObject lease, CancellationToken cancellationToken) =>
        (await SendForJsonAsync(HttpMethod.Post, LeasePath(ns), Json(lease), cancellationToken)).AsObject();

    /// <summary>Replaces the Lease; its metadata.resourceVersion makes the write conditional (409 Conflict when it moved).</summary>
    public async Task<JsonObject> ReplaceLeaseAsync(string ns, string name, JsonObject lease, CancellationToken cancellationToken) =>
        (await SendForJsonAsync(HttpMethod.Put, LeasePath(ns, name), Json(lease), cancellationToken)).AsObject();

    static StringContent Json(JsonNode body)
    {
        var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    static NodeHaConfigObject ToObject(JsonNode item)
    {
        var config = item.Deserialize(KubeJsonContext.Default.NodeHaConfig) ?? throw new InvalidDataException("a null NodeHaConfig");
        var meta = item["metadata"];
        return new NodeHaConfigObject(config, (long?)meta?["generation"] ?? 0, (string?)meta?["resourceVersion"] ?? "");
    }

    HttpRequestMessage Request(HttpMethod method, string path, HttpContent? content)
    {
        var request = new HttpRequestMessage(method, path) { Content = content, Version = HttpVersion.Version11 };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (_connection.CurrentToken() is { Length: > 0 } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    async Task<JsonNode> SendForJsonAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        using var request = Request(method, path, content);
        using var response = await _http.SendAsync(request, timeout.Token);
        await EnsureSuccessAsync(response, timeout.Token);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(timeout.Token)) ?? throw new InvalidDataException($"{path}: an empty answer");
    }

    static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        string message = "";
        try
        {
            message = (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["message"] ?? "";
        }
        catch (JsonException) { }
        throw new KubeApiException(response.StatusCode,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} {response.StatusCode} {SafeText.Escape(message, 300)}".TrimEnd());
    }

    public void Dispose() => _http.Dispose();
}
