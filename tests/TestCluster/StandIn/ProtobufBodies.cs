using System.Text;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.StandIn;

/// <summary>
/// Reads the Kubernetes protobuf request bodies that typed client-go clientsets send for built-in kinds (helm's release
/// storage writes Secrets this way, kubectl create namespace a Namespace): the "k8s\0" envelope around runtime.Unknown,
/// then Secret, ConfigMap, Namespace or DeleteOptions, with the ObjectMeta fields a client sets on a write. Responses
/// stay JSON (client-go accepts them). Other kinds and fields are refused by name, never silently dropped.
/// </summary>
public static class ProtobufBodies
{
    public const string ContentType = "application/vnd.kubernetes.protobuf";
    static readonly byte[] Magic = [0x6b, 0x38, 0x73, 0x00];

    public static JsonObject Decode(byte[] body)
    {
        if (body.Length < 4 || !body.AsSpan(0, 4).SequenceEqual(Magic)) throw ApiError.BadRequest("protobuf body without the k8s envelope");
        string apiVersion = "", kind = "";
        byte[] raw = [];
        foreach (var (field, value) in Fields(body.AsMemory(4)))
        {
            if (field == 1)
                foreach (var (f, v) in Fields(value)) { if (f == 1) apiVersion = Text(v); else if (f == 2) kind = Text(v); }
            else if (field == 2) raw = value.ToArray();
        }
        var obj = kind switch
        {
            "Secret" => Secret(raw),
            "ConfigMap" => ConfigMap(raw),
            "Namespace" => Namespace(raw),
            "DeleteOptions" => DeleteOptions(raw),
            _ => throw new ApiError(415, "UnsupportedMediaType", $"the stand-in reads protobuf bodies of Secret, ConfigMap, Namespace and DeleteOptions only, not {apiVersion} {kind}"),
        };
        obj["apiVersion"] = apiVersion;
        obj["kind"] = kind;
        return obj;
    }

    static JsonObject Secret(byte[] raw)
    {
        var o = new JsonObject();
        foreach (var (f, v) in Fields(raw))
            switch (f)
            {
                case 1: o["metadata"] = Meta(v); break;
                case 2: Entry(o, "data", v, bytes => Convert.ToBase64String(bytes.Span)); break;
                case 3: if (v.Length > 0) o["type"] = Text(v); break;
                case 4: Entry(o, "stringData", v, Text); break;
                case 5: o["immutable"] = v.Length > 0 && v.Span[0] != 0; break;
                default: throw Unsupported("Secret", f);
            }
        return o;
    }

    static JsonObject ConfigMap(byte[] raw)
    {
        var o = new JsonObject();
        foreach (var (f, v) in Fields(raw))
            switch (f)
            {
                case 1: o["metadata"] = Meta(v); break;
                case 2: Entry(o, "data", v, Text); break;
                case 3: Entry(o, "binaryData", v, bytes => Convert.ToBase64String(bytes.Span)); break;
                case 4: o["immutable"] = v.Length > 0 && v.Span[0] != 0; break;
                default: throw Unsupported("ConfigMap", f);
            }
        return o;
    }

    static JsonObject Namespace(byte[] raw)
    {
        var o = new JsonObject();
        foreach (var (f, v) in Fields(raw))
            if (f == 1) o["metadata"] = Meta(v);
            else if (f is not (2 or 3)) throw Unsupported("Namespace", f); // empty spec/status
        return o;
    }

    static JsonObject DeleteOptions(byte[] raw)
    {
        var o = new JsonObject();
        foreach (var (f, v) in Fields(raw))
            if (f == 4) o["propagationPolicy"] = Text(v);
            else if (f is not (1 or 3 or 5)) throw Unsupported("DeleteOptions", f); // grace period, orphan, dryRun (query too)
        return o;
    }

    static JsonObject Meta(ReadOnlyMemory<byte> raw)
    {
        var m = new JsonObject();
        foreach (var (f, v) in Fields(raw))
            switch (f)
            {
                // gogo-protobuf writes every non-pointer field, empty or not: an empty one means unset.
                case 1 or 2 or 3 or 5 or 6 when v.Length == 0: break;
                case 1: m["name"] = Text(v); break;
                case 2: m["generateName"] = Text(v); break;
                case 3: m["namespace"] = Text(v); break;
                case 5: m["uid"] = Text(v); break;
                case 6: m["resourceVersion"] = Text(v); break;
                case 7 or 8: break; // generation, creationTimestamp: the server's
                case 11: Entry(m, "labels", v, Text); break;
                case 12: Entry(m, "annotations", v, Text); break;
                case 14: (m["finalizers"] ??= new JsonArray()).AsArray().Add(Text(v)); break;
                default:
                    if (!Empty(v)) throw Unsupported("ObjectMeta", f);
                    break;
            }
        return m;
    }

    static void Entry(JsonObject o, string map, ReadOnlyMemory<byte> entry, Func<ReadOnlyMemory<byte>, string> value)
    {
        string key = "", val = value(ReadOnlyMemory<byte>.Empty);
        foreach (var (f, v) in Fields(entry)) { if (f == 1) key = Text(v); else if (f == 2) val = value(v); }
        ((o[map] ??= new JsonObject()).AsObject())[key] = val;
    }

    static ApiError Unsupported(string type, int field) =>
        new(415, "UnsupportedMediaType", $"the stand-in does not read protobuf field {field} of {type}; send JSON");

    /// <summary>An empty string or message, a zero varint: what gogo-protobuf writes for an unset field.</summary>
    static bool Empty(ReadOnlyMemory<byte> v)
    {
        if (v.Length == 0 || (v.Length == 1 && v.Span[0] == 0)) return true;
        try { return Fields(v).All(f => Empty(f.Value)); }
        catch (ApiError) { return false; } // not a message: a non-empty scalar
    }

    static string Text(ReadOnlyMemory<byte> v) => Encoding.UTF8.GetString(v.Span);

    /// <summary>Protobuf wire format: (field number, payload) pairs; varints come back as their encoded bytes.</summary>
    static IEnumerable<(int Field, ReadOnlyMemory<byte> Value)> Fields(ReadOnlyMemory<byte> data)
    {
        var i = 0;
        while (i < data.Length)
        {
            var key = Varint(data.Span, ref i);
            var field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0:
                    var start = i;
                    Varint(data.Span, ref i);
                    yield return (field, data[start..i]);
                    break;
                case 2:
                    var length = (int)Varint(data.Span, ref i);
                    if (length < 0 || i + length > data.Length) throw ApiError.BadRequest("truncated protobuf body");
                    yield return (field, data.Slice(i, length));
                    i += length;
                    break;
                case 1: i += 8; break;
                case 5: i += 4; break;
                default: throw ApiError.BadRequest($"protobuf wire type {key & 7} not read by the stand-in");
            }
        }
    }

    static ulong Varint(ReadOnlySpan<byte> data, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (i >= data.Length) throw ApiError.BadRequest("truncated protobuf varint");
            var b = data[i++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
        throw ApiError.BadRequest("protobuf varint too long");
    }
}
