using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.StandIn;

/// <summary>
/// The patch types clients send: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch
/// (kubectl apply and helm on built-in kinds) and server-side apply. Strategic merge and apply merge lists of
/// objects by their "name" key (the merge key of containers, env, volumes, ports...), other lists are replaced.
/// No managedFields are kept: apply never removes fields a manager stopped applying (docs/test-cluster.md).
/// </summary>
public static class Patches
{
    public const string Merge = "application/merge-patch+json";
    public const string Json = "application/json-patch+json";
    public const string Strategic = "application/strategic-merge-patch+json";
    public const string Apply = "application/apply-patch+yaml";
    public const string ApplyCbor = "application/apply-patch+cbor";

    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target as JsonObject is { } t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null) result.Remove(key);
            else result[key] = MergePatch(result[key], value);
        }
        return result;
    }

    /// <summary>Strategic merge (and apply): like a merge patch, but name-keyed lists merge item by item.</summary>
    public static JsonNode? StrategicMerge(JsonNode? target, JsonNode? patch)
    {
        if (patch is JsonArray patchList) return MergeList(target as JsonArray, patchList);
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var directive = patchObject["$patch"]?.GetValue<string>();
        if (directive == "delete") return null;
        if (directive == "replace")
        {
            var replaced = (JsonObject)patchObject.DeepClone();
            replaced.Remove("$patch");
            return replaced;
        }
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        if (patchObject["$retainKeys"] is JsonArray retain)
        {
            var keep = retain.Select(k => k!.GetValue<string>()).ToHashSet();
            foreach (var key in result.Select(p => p.Key).Where(k => !keep.Contains(k)).ToList()) result.Remove(key);
        }
        foreach (var (key, value) in patchObject)
        {
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) || key is "$patch" or "$retainKeys") continue;
            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = key["$deleteFromPrimitiveList/".Length..];
                if (result[field] is JsonArray list && value is JsonArray gone)
                {
                    var drop = gone.Select(g => g?.ToJsonString()).ToHashSet();
                    result[field] = new JsonArray(list.Where(i => !drop.Contains(i?.ToJsonString())).Select(i => i?.DeepClone()).ToArray());
                }
                continue;
            }
            if (value is null) result.Remove(key);
            else
            {
                var merged = StrategicMerge(result[key], value);
                if (merged is null) result.Remove(key);
                else result[key] = merged;
            }
        }
        return result;
    }

    static JsonArray MergeList(JsonArray? target, JsonArray patch)
    {
        static string? Key(JsonNode? item) => item is JsonObject o && o["name"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        var keyed = target is not null && patch.All(i => Key(i) is not null) && target.All(i => Key(i) is not null);
        if (!keyed || patch.Any(i => i is JsonObject o && o["$patch"]?.GetValue<string>() == "replace"))
            return new JsonArray(patch.Where(i => !(i is JsonObject o && o.ContainsKey("$patch"))).Select(i => i?.DeepClone()).ToArray());
        var items = target!.Select(i => i!.DeepClone()).ToList();
        foreach (var p in patch)
        {
            var index = items.FindIndex(i => Key(i) == Key(p));
            var merged = StrategicMerge(index >= 0 ? items[index] : null, p);
            if (index >= 0)
            {
                if (merged is null) items.RemoveAt(index);
                else items[index] = merged;
            }
            else if (merged is not null) items.Add(merged);
        }
        return new JsonArray(items.ToArray());
    }

    /// <summary>RFC 6902 on a copy of <paramref name="target"/>.</summary>
    public static JsonNode JsonPatch(JsonNode target, JsonNode? patch)
    {
        if (patch is not JsonArray operations) throw ApiError.BadRequest("json patch: the body must be a JSON array of operations");
        var doc = target.DeepClone();
        foreach (var op in operations)
        {
            var name = op?["op"]?.GetValue<string>() ?? throw ApiError.BadRequest("json patch: an operation has no \"op\"");
            var path = op["path"]?.GetValue<string>() ?? throw ApiError.BadRequest($"json patch: {name} has no \"path\"");
            switch (name)
            {
                case "add": doc = Put(doc, path, op["value"]?.DeepClone(), insert: true); break;
                case "replace": Get(doc, path); doc = Put(doc, path, op["value"]?.DeepClone(), insert: false); break;
                case "remove": doc = Remove(doc, path); break;
                case "test":
                    if (Get(doc, path)?.ToJsonString() != op["value"]?.ToJsonString())
                        throw new ApiError(422, "Invalid", $"the server rejected our request due to an error in our request: testing value {path} failed");
                    break;
                case "copy": doc = Put(doc, path, Get(doc, From(op))?.DeepClone(), insert: true); break;
                case "move":
                    var moved = Get(doc, From(op))?.DeepClone();
                    doc = Put(Remove(doc, From(op)), path, moved, insert: true);
                    break;
                default: throw ApiError.BadRequest($"json patch: unknown operation \"{name}\"");
            }
        }
        return doc;

        static string From(JsonNode? op) => op?["from"]?.GetValue<string>() ?? throw ApiError.BadRequest("json patch: copy/move has no \"from\"");
    }

    static string[] Pointer(string path) =>
        path.Length == 0 ? [] : path.Split('/').Skip(1).Select(s => s.Replace("~1", "/").Replace("~0", "~")).ToArray();

    static string ParentPath(string[] segments) =>
        string.Concat(segments[..^1].Select(s => "/" + s.Replace("~", "~0").Replace("/", "~1")));

    static JsonNode? Get(JsonNode doc, string path)
    {
        JsonNode? node = doc;
        foreach (var s in Pointer(path))
        {
            node = node switch
            {
                JsonObject o when o.ContainsKey(s) => o[s],
                JsonArray a when int.TryParse(s, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw new ApiError(422, "Invalid", $"the server rejected our request due to an error in our request: doc is missing path: \"{path}\""),
            };
        }
        return node;
    }

    static JsonNode Put(JsonNode doc, string path, JsonNode? value, bool insert)
    {
        var segments = Pointer(path);
        if (segments.Length == 0) return value ?? throw ApiError.BadRequest("json patch: the document cannot become null");
        var parent = Get(doc, ParentPath(segments));
        var last = segments[^1];
        switch (parent)
        {
            case JsonObject o: o[last] = value; break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i <= a.Count:
                if (insert) a.Insert(i, value);
                else a[i] = value;
                break;
            default: throw new ApiError(422, "Invalid", $"the server rejected our request due to an error in our request: doc is missing path: \"{path}\"");
        }
        return doc;
    }

    static JsonNode Remove(JsonNode doc, string path)
    {
        var segments = Pointer(path);
        if (segments.Length == 0) throw ApiError.BadRequest("json patch: cannot remove the whole document");
        Get(doc, path);
        var parent = Get(doc, ParentPath(segments));
        if (parent is JsonObject o) o.Remove(segments[^1]);
        else if (parent is JsonArray a) a.RemoveAt(int.Parse(segments[^1]));
        return doc;
    }
}
