using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.StandIn;

/// <summary>
/// The stand-in's REST verbs for one kind: list (pages, exact versions), watch (bookmarks, initial events),
/// get, create, update, patch (merge, JSON, strategic, apply), delete (finalizers, preconditions),
/// deletecollection and the status subresource. Wire format: JSON only.
/// </summary>
public sealed class ResourceApi(ObjectStore store, TimeProvider clock, TimeSpan bookmarkInterval)
{
    static readonly byte[] NewLine = "\n"u8.ToArray();

    public async Task Handle(HttpContext ctx, ResourceKind kind, string? ns, string? name, string? subresource)
    {
        try
        {
            if (subresource is not null && (subresource != "status" || !kind.HasStatus))
                throw new ApiError(404, "NotFound", $"the server could not find the requested resource ({subresource} of {kind.QualifiedResource})");
            var q = ctx.Request.Query;
            var dryRun = q.ContainsKey("dryRun");
            switch (ctx.Request.Method, name)
            {
                case ("GET", null) when q["watch"] is var w && (w == "true" || w == "1"):
                    await Watch(ctx, kind, ns);
                    return;
                case ("GET", null):
                    await Write(ctx, 200, List(ctx, kind, ns));
                    return;
                case ("GET", not null):
                    await Write(ctx, 200, store.Get(kind, ns, name));
                    return;
                case ("POST", null):
                    var created = await Body(ctx, kind);
                    CheckNamespace(ns, created);
                    CheckKind(kind, created);
                    await Write(ctx, 201, store.Create(kind, ns, created, dryRun));
                    return;
                case ("PUT", not null):
                    var replacement = await Body(ctx, kind);
                    CheckNamespace(ns, replacement);
                    CheckKind(kind, replacement);
                    await Write(ctx, 200, store.Update(kind, ns, name, _ => replacement, subresource == "status", dryRun));
                    return;
                case ("PATCH", not null):
                    await Write(ctx, 200, await Patch(ctx, kind, ns, name, subresource == "status", dryRun));
                    return;
                case ("DELETE", not null):
                    // DeleteOptions in protobuf (typed clients) are not read: no preconditions then.
                    var options = ctx.Request.ContentLength > 0 && !IsProtobuf(ctx) ? await Body(ctx, kind) : new JsonObject();
                    var (obj, deleted) = store.Delete(kind, ns, name,
                        options["preconditions"]?["uid"]?.GetValue<string>(),
                        options["preconditions"]?["resourceVersion"]?.GetValue<string>(), dryRun);
                    await Write(ctx, deleted ? 200 : 202, obj);
                    return;
                case ("DELETE", null):
                    var victims = List(ctx, kind, ns)["items"]!.AsArray()
                        .Select(i => ObjectStore.Metadata(i!.AsObject())).ToList();
                    foreach (var meta in victims)
                        store.Delete(kind, meta["namespace"]?.GetValue<string>(), meta["name"]!.GetValue<string>(), null, null, dryRun);
                    await Write(ctx, 200, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success" });
                    return;
                default:
                    throw new ApiError(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource ({ctx.Request.Method} {kind.QualifiedResource})");
            }
        }
        catch (ApiError e)
        {
            if (!ctx.Response.HasStarted) await Write(ctx, e.Code, e.ToStatus());
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or NullReferenceException)
        {
            // a stand-in gap, not the client's fault: say what it was
            if (!ctx.Response.HasStarted)
                await Write(ctx, 500, new ApiError(500, "InternalError", $"test cluster stand-in: {e.GetType().Name}: {e.Message}").ToStatus());
        }
    }

    JsonObject List(HttpContext ctx, ResourceKind kind, string? ns)
    {
        var q = ctx.Request.Query;
        var limit = int.TryParse(q["limit"], CultureInfo.InvariantCulture, out var l) ? l : 0;
        var result = store.List(kind, ns, Selector.Labels(q["labelSelector"]), Selector.Fields(q["fieldSelector"], kind),
            q["resourceVersion"], q["resourceVersionMatch"], limit, q["continue"]);
        var meta = new JsonObject { ["resourceVersion"] = result.ResourceVersion.ToString(CultureInfo.InvariantCulture) };
        if (result.Continue is not null) meta["continue"] = result.Continue;
        if (result.Remaining is { } remaining) meta["remainingItemCount"] = remaining;
        return new JsonObject
        {
            ["kind"] = kind.Kind + "List",
            ["apiVersion"] = kind.ApiVersion,
            ["metadata"] = meta,
            ["items"] = new JsonArray(result.Items.Select(i => (JsonNode)i).ToArray()),
        };
    }

    async Task Watch(HttpContext ctx, ResourceKind kind, string? ns)
    {
        var q = ctx.Request.Query;
        var bookmarks = q["allowWatchBookmarks"] == "true";
        var sendInitialEvents = q["sendInitialEvents"] == "true";
        if (sendInitialEvents && (!bookmarks || q["resourceVersionMatch"] != "NotOlderThan"))
            throw new ApiError(422, "Invalid", "sendInitialEvents: Forbidden: sendInitialEvents requires setting allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan");
        // As the real server: a client timeout, else a random 30 to 60 minutes.
        var timeout = int.TryParse(q["timeoutSeconds"], CultureInfo.InvariantCulture, out var t) && t > 0
            ? TimeSpan.FromSeconds(t)
            : TimeSpan.FromMinutes(30 + Random.Shared.Next(30));
        using var watcher = store.Watch(kind, ns, Selector.Labels(q["labelSelector"]), Selector.Fields(q["fieldSelector"], kind),
            q["resourceVersion"], bookmarks, sendInitialEvents);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);

        using var end = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        end.CancelAfter(timeout);
        var deadline = clock.GetUtcNow() + timeout;
        var bookmarking = bookmarks ? SendBookmarks(watcher, deadline, end.Token) : Task.CompletedTask;
        try
        {
            await foreach (var e in watcher.Events.ReadAllAsync(end.Token))
            {
                await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(new JsonObject { ["type"] = e.Type, ["object"] = e.Object }.ToJsonString()), end.Token);
                await ctx.Response.Body.WriteAsync(NewLine, end.Token);
                await ctx.Response.Body.FlushAsync(end.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // timeout or client gone: the response just ends, as the real server's does
        }
        await bookmarking;
    }

    /// <summary>As the real watch cache: a bookmark every interval, and one 2 s before the watch's deadline.</summary>
    async Task SendBookmarks(Watcher watcher, DateTimeOffset deadline, CancellationToken token)
    {
        try
        {
            while (true)
            {
                var now = clock.GetUtcNow();
                var next = now + bookmarkInterval;
                if (deadline - TimeSpan.FromSeconds(2) < next) next = deadline - TimeSpan.FromSeconds(2);
                if (next < now) return;
                await Task.Delay(next - now, clock, token);
                store.SendBookmark(watcher);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    async Task<JsonObject> Patch(HttpContext ctx, ResourceKind kind, string? ns, string name, bool statusOnly, bool dryRun)
    {
        var type = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
        if (type == Patches.ApplyCbor) throw new ApiError(415, "UnsupportedMediaType", "the stand-in reads JSON apply patches only");
        var patch = await ParseBody(ctx, allowYamlHint: type == Patches.Apply);
        return type switch
        {
            Patches.Merge => store.Update(kind, ns, name, c => (JsonObject)Patches.MergePatch(c, patch)!, statusOnly, dryRun),
            Patches.Strategic => store.Update(kind, ns, name, c => (JsonObject)(Patches.StrategicMerge(c, patch) ?? new JsonObject()), statusOnly, dryRun),
            Patches.Json => store.Update(kind, ns, name, c => Patches.JsonPatch(c!, patch).AsObject(), statusOnly, dryRun),
            Patches.Apply => Apply(ctx, kind, ns, name, patch, statusOnly, dryRun),
            _ => throw new ApiError(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: {Patches.Json}, {Patches.Merge}, {Patches.Apply}, {Patches.Strategic}"),
        };
    }

    JsonObject Apply(HttpContext ctx, ResourceKind kind, string? ns, string name, JsonNode? patch, bool statusOnly, bool dryRun)
    {
        if (string.IsNullOrEmpty(ctx.Request.Query["fieldManager"]))
            throw ApiError.BadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
        if (patch is not JsonObject applied) throw ApiError.BadRequest("apply patch: the body must be an object");
        CheckKind(kind, applied);
        CheckNamespace(ns, applied);
        return store.Update(kind, ns, name,
            current => current is null ? (JsonObject)applied.DeepClone() : (JsonObject)Patches.StrategicMerge(current, applied)!,
            statusOnly, dryRun, createIfMissing: !statusOnly);
    }

    static void CheckNamespace(string? ns, JsonObject obj)
    {
        var given = obj["metadata"]?["namespace"]?.GetValue<string>();
        if (ns is not null && !string.IsNullOrEmpty(given) && given != ns)
            throw ApiError.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
    }

    static void CheckKind(ResourceKind kind, JsonObject obj)
    {
        var k = obj["kind"]?.GetValue<string>();
        var v = obj["apiVersion"]?.GetValue<string>();
        if ((!string.IsNullOrEmpty(k) && k != kind.Kind) || (!string.IsNullOrEmpty(v) && v != kind.ApiVersion))
            throw ApiError.BadRequest($"the API version in the data ({v}) does not match the expected API version ({kind.ApiVersion}) or kind ({k}) is not {kind.Kind}");
    }

    static bool IsProtobuf(HttpContext ctx) => (ctx.Request.ContentType ?? "").StartsWith(Protobuf.ContentType, StringComparison.Ordinal);

    static async Task<JsonObject> Body(HttpContext ctx, ResourceKind kind)
    {
        if (IsProtobuf(ctx))
        {
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
            return Protobuf.Decode(buffer.ToArray(), kind);
        }
        return await ParseBody(ctx, allowYamlHint: false) as JsonObject ?? throw ApiError.BadRequest("the request body must be a JSON object");
    }

    static async Task<JsonNode?> ParseBody(HttpContext ctx, bool allowYamlHint)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(ctx.RequestAborted);
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            var what = allowYamlHint ? "JSON (YAML apply patches are not read by the stand-in)" : "JSON";
            throw new ApiError(415, "UnsupportedMediaType", $"the stand-in reads {what} bodies only (Content-Type {ctx.Request.ContentType}): {e.Message}");
        }
    }

    public static async Task Write(HttpContext ctx, int code, JsonNode body)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(body.ToJsonString()), ctx.RequestAborted);
    }
}
