using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.StandIn;

/// <summary>
/// Reads the Kubernetes protobuf encoding ("k8s\0" + runtime.Unknown) of the few kinds typed clients write
/// with it: helm keeps its releases in Secrets through a typed client, and kubectl create secret / configmap /
/// namespace / serviceaccount send protobuf. Answers stay JSON (those clients accept it). Fields the schemas
/// below do not name are skipped.
/// </summary>
public static class Protobuf
{
    public const string ContentType = "application/vnd.kubernetes.protobuf";

    enum T { String, Bytes, Bool, Int, Time, Message, MapString, MapBytes, RepeatedString, RepeatedMessage }

    sealed record Field(string Name, T Type, Dictionary<int, Field>? Schema = null);

    static readonly Dictionary<int, Field> OwnerReference = new()
    {
        [1] = new("kind", T.String), [3] = new("name", T.String), [4] = new("uid", T.String),
        [5] = new("apiVersion", T.String), [6] = new("controller", T.Bool), [7] = new("blockOwnerDeletion", T.Bool),
    };

    static readonly Dictionary<int, Field> ObjectMeta = new()
    {
        [1] = new("name", T.String), [2] = new("generateName", T.String), [3] = new("namespace", T.String),
        [5] = new("uid", T.String), [6] = new("resourceVersion", T.String), [7] = new("generation", T.Int),
        [8] = new("creationTimestamp", T.Time), [9] = new("deletionTimestamp", T.Time),
        [10] = new("deletionGracePeriodSeconds", T.Int), [11] = new("labels", T.MapString),
        [12] = new("annotations", T.MapString), [13] = new("ownerReferences", T.RepeatedMessage, OwnerReference),
        [14] = new("finalizers", T.RepeatedString),
    };

    static readonly Dictionary<int, Field> ObjectReference = new()
    {
        [1] = new("kind", T.String), [2] = new("namespace", T.String), [3] = new("name", T.String), [4] = new("uid", T.String),
        [5] = new("apiVersion", T.String),
    };

    static readonly Dictionary<string, Dictionary<int, Field>> Kinds = new()
    {
        ["Secret"] = new()
        {
            [1] = new("metadata", T.Message, ObjectMeta), [2] = new("data", T.MapBytes), [3] = new("type", T.String),
            [4] = new("stringData", T.MapString), [5] = new("immutable", T.Bool),
        },
        ["ConfigMap"] = new()
        {
            [1] = new("metadata", T.Message, ObjectMeta), [2] = new("data", T.MapString), [3] = new("binaryData", T.MapBytes),
            [4] = new("immutable", T.Bool),
        },
        ["Namespace"] = new()
        {
            [1] = new("metadata", T.Message, ObjectMeta),
            [2] = new("spec", T.Message, new() { [1] = new("finalizers", T.RepeatedString) }),
        },
        ["ServiceAccount"] = new()
        {
            [1] = new("metadata", T.Message, ObjectMeta), [2] = new("secrets", T.RepeatedMessage, ObjectReference),
            [3] = new("imagePullSecrets", T.RepeatedMessage, new() { [1] = new("name", T.String) }),
            [4] = new("automountServiceAccountToken", T.Bool),
        },
    };

    public static JsonObject Decode(byte[] body, ResourceKind kind)
    {
        if (body.Length < 4 || body[0] != (byte)'k' || body[1] != (byte)'8' || body[2] != (byte)'s' || body[3] != 0)
            throw ApiError.BadRequest("protobuf body without the k8s\\0 prefix");
        if (!Kinds.TryGetValue(kind.Kind, out var schema))
            throw new ApiError(415, "UnsupportedMediaType", $"the stand-in reads protobuf for Secret, ConfigMap, Namespace and ServiceAccount only, not {kind.Kind}: send JSON");
        byte[]? raw = null;
        var reader = new Reader(body, 4, body.Length);
        while (reader.More)
        {
            var (number, wire) = reader.Tag();
            if (number == 2 && wire == 2) raw = reader.Bytes();
            else reader.Skip(wire);
        }
        if (raw is null) throw ApiError.BadRequest("protobuf envelope without an object");
        var obj = Message(new Reader(raw, 0, raw.Length), schema);
        obj["apiVersion"] = kind.ApiVersion;
        obj["kind"] = kind.Kind;
        return obj;
    }

    static JsonObject Message(Reader reader, Dictionary<int, Field> schema)
    {
        var obj = new JsonObject();
        while (reader.More)
        {
            var (number, wire) = reader.Tag();
            if (!schema.TryGetValue(number, out var field))
            {
                reader.Skip(wire);
                continue;
            }
            switch (field.Type)
            {
                // Go writes zero values to protobuf that its JSON leaves out (omitempty): leave them out too.
                case T.String when Encoding.UTF8.GetString(reader.Bytes()) is { Length: > 0 } text: obj[field.Name] = text; break;
                case T.Bytes: obj[field.Name] = Convert.ToBase64String(reader.Bytes()); break;
                case T.Bool when reader.Varint() != 0: obj[field.Name] = true; break;
                case T.Int when (long)reader.Varint() is not 0 and var integer: obj[field.Name] = integer; break;
                case T.String or T.Bool or T.Int: break;
                case T.Time:
                    var time = Message(reader.Sub(), new() { [1] = new("s", T.Int) });
                    var seconds = time["s"]?.GetValue<long>() ?? 0;
                    obj[field.Name] = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
                    break;
                case T.Message: obj[field.Name] = Message(reader.Sub(), field.Schema!); break;
                case T.MapString or T.MapBytes:
                    var entry = Message(reader.Sub(), new() { [1] = new("k", T.String), [2] = new("v", field.Type == T.MapString ? T.String : T.Bytes) });
                    var map = obj[field.Name] as JsonObject ?? new JsonObject();
                    map[entry["k"]?.GetValue<string>() ?? ""] = entry["v"]?.GetValue<string>() ?? "";
                    obj[field.Name] = map;
                    break;
                case T.RepeatedString:
                    ((obj[field.Name] ??= new JsonArray()) as JsonArray)!.Add(Encoding.UTF8.GetString(reader.Bytes()));
                    break;
                case T.RepeatedMessage:
                    ((obj[field.Name] ??= new JsonArray()) as JsonArray)!.Add(Message(reader.Sub(), field.Schema!));
                    break;
            }
        }
        return obj;
    }

    sealed class Reader(byte[] data, int position, int end)
    {
        int _position = position;

        public bool More => _position < end;

        public (int Number, int Wire) Tag()
        {
            var tag = Varint();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position >= end) throw ApiError.BadRequest("truncated protobuf body");
                var b = data[_position++];
                value |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return value;
            }
            throw ApiError.BadRequest("malformed protobuf varint");
        }

        public byte[] Bytes()
        {
            var length = (int)Varint();
            if (length < 0 || _position + length > end) throw ApiError.BadRequest("truncated protobuf body");
            var bytes = data.AsSpan(_position, length).ToArray();
            _position += length;
            return bytes;
        }

        public Reader Sub()
        {
            var length = (int)Varint();
            if (length < 0 || _position + length > end) throw ApiError.BadRequest("truncated protobuf body");
            var sub = new Reader(data, _position, _position + length);
            _position += length;
            return sub;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: _position += 8; break;
                case 2: Bytes(); break;
                case 5: _position += 4; break;
                default: throw ApiError.BadRequest($"unsupported protobuf wire type {wire}");
            }
        }
    }
}
