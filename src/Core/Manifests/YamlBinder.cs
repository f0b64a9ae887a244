using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Serialization.Metadata;
using NginxHa.Core.Resources;
using NginxHa.Core.Resources.Validation;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace NginxHa.Core.Manifests;

/// <summary>
/// Binds a YAML node tree onto resource classes by their camelCase property names, collecting every
/// unknown field and type mismatch (with its path and line) instead of stopping at the first, which
/// YamlDotNet's deserializer would do. Also records the line of every path so later validation
/// errors can point at the line too. The shape of each type (field names, setters, constructors) comes from the
/// compile-time <see cref="ResourceJsonContext"/>, not from reflection, so binding works the same under NativeAOT.
/// </summary>
internal sealed class YamlBinder
{
    /// <summary>Set by the API server; present in manifests exported with `kubectl get -o yaml`, meaningless to us.</summary>
    private static readonly HashSet<string> ServerManagedMetadata =
    [
        "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
        "managedFields", "ownerReferences", "finalizers", "selfLink",
    ];

    private readonly List<(string Path, int Line, string Message)> _problems = new();
    private readonly Dictionary<string, int> _lines = new();

    public IReadOnlyList<(string Path, int Line, string Message)> Problems => _problems;

    /// <summary>Line of the YAML node at the given path, or of its nearest parent that exists.</summary>
    public int LineOf(string path, int fallback)
    {
        while (true)
        {
            if (_lines.TryGetValue(path, out var line)) return line;
            var cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
            if (cut <= 0) return fallback;
            path = path[..cut];
        }
    }

    public object? Bind(YamlNode node, Type type, string path)
    {
        _lines.TryAdd(path, LineOf(node));
        if (IsNull(node))
            return null;

        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null) return Bind(node, underlying, path);

        if (type == typeof(string)) return Scalar(node, path, "a string") is { } s ? s.Value : null;
        if (type == typeof(bool)) return BindBool(node, path);
        if (type == typeof(int) || type == typeof(long)) return BindInteger(node, path, type);
        if (type == typeof(double)) return BindNumber(node, path);
        if (type.IsEnum) return BindEnum(node, path, type);
        if (type == typeof(DateTimeOffset)) return BindTimestamp(node, path);
        if (type == typeof(TimeSpan)) return BindDuration(node, path);

        var contract = ResourceJsonContext.Default.GetTypeInfo(type);
        if (contract?.CreateObject is not null)
        {
            if (contract.Kind == JsonTypeInfoKind.Dictionary && contract.KeyType == typeof(string)) return BindDictionary(node, path, contract);
            if (contract.Kind == JsonTypeInfoKind.Enumerable) return BindList(node, path, contract);
            if (contract.Kind == JsonTypeInfoKind.Object) return BindObject(node, path, contract);
        }

        throw new InvalidOperationException($"The manifest binder cannot bind {type.FullName} at {path}: use a class with a parameterless " +
                                            $"constructor, List<T> or Dictionary<string, T>, reachable from a root type of {nameof(ResourceJsonContext)}.");
    }

    private object? BindObject(YamlNode node, string path, JsonTypeInfo contract)
    {
        if (node is not YamlMappingNode mapping)
        {
            Add(path, node, $"must be a mapping (an object with fields), not {Describe(node)}");
            return null;
        }

        var target = contract.CreateObject!();
        var properties = SettablePropertiesByName(contract);
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var key = keyNode is YamlScalarNode { Value: { } k } ? k : "";
            var childPath = path.Length == 0 ? key : $"{path}.{key}";
            if (!properties.TryGetValue(key, out var property))
            {
                if (contract.Type == typeof(ObjectMeta) && ServerManagedMetadata.Contains(key)) continue;
                Add(path, keyNode, UnknownFieldMessage(key, properties.Keys));
                continue;
            }

            var value = Bind(valueNode, property.PropertyType, childPath);
            if (value is not null) property.Set!(target, value);
        }
        return target;
    }

    private object? BindList(YamlNode node, string path, JsonTypeInfo contract)
    {
        if (node is not YamlSequenceNode sequence)
        {
            Add(path, node, $"must be a list, not {Describe(node)}");
            return null;
        }

        var list = contract.CreateObject!() as IList
                   ?? throw new InvalidOperationException($"The manifest binder cannot fill {contract.Type.FullName} at {path}: use List<T>.");
        var elementType = contract.ElementType!;
        var index = 0;
        foreach (var item in sequence.Children)
        {
            var itemPath = $"{path}[{index++}]";
            if (IsNull(item))
            {
                Add(itemPath, item, "a list item must not be empty (null)");
                continue;
            }
            // An item that did not bind is reported already; leaving it out keeps nulls away from validation.
            if (Bind(item, elementType, itemPath) is not { } value) continue;
            list.Add(value);
        }
        return list;
    }

    private object? BindDictionary(YamlNode node, string path, JsonTypeInfo contract)
    {
        if (node is not YamlMappingNode mapping)
        {
            Add(path, node, $"must be a mapping, not {Describe(node)}");
            return null;
        }

        var dictionary = contract.CreateObject!() as IDictionary
                         ?? throw new InvalidOperationException($"The manifest binder cannot fill {contract.Type.FullName} at {path}: use Dictionary<string, T>.");
        var valueType = contract.ElementType!;
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var key = keyNode is YamlScalarNode { Value: { } k } ? k : "";
            var value = Bind(valueNode, valueType, $"{path}[{FieldRules.Quote(key)}]");
            if (value is null && valueType == typeof(string))
                value = ""; // `key:` with no value is the empty string in Kubernetes label maps
            if (value is not null) dictionary[key] = value;
        }
        return dictionary;
    }

    private object? BindBool(YamlNode node, string path)
    {
        if (Scalar(node, path, "true or false") is not { } scalar) return null;
        if (scalar.Style == ScalarStyle.Plain && scalar.Value is "true" or "True" or "TRUE") return true;
        if (scalar.Style == ScalarStyle.Plain && scalar.Value is "false" or "False" or "FALSE") return false;
        Add(path, node, $"{ValueText(scalar)} must be true or false");
        return null;
    }

    private object? BindInteger(YamlNode node, string path, Type type)
    {
        if (Scalar(node, path, "an integer") is not { } scalar) return null;
        if (scalar.Style == ScalarStyle.Plain
            && long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            && (type == typeof(long) || value is >= int.MinValue and <= int.MaxValue))
            return type == typeof(long) ? value : (object)(int)value;
        Add(path, node, $"{ValueText(scalar)} must be an integer");
        return null;
    }

    private object? BindNumber(YamlNode node, string path)
    {
        if (Scalar(node, path, "a number") is not { } scalar) return null;
        if (scalar.Style == ScalarStyle.Plain
            && double.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            return value;
        Add(path, node, $"{ValueText(scalar)} must be a number");
        return null;
    }

    private object? BindEnum(YamlNode node, string path, Type type)
    {
        var names = Enum.GetNames(type);
        if (Scalar(node, path, $"one of {string.Join(", ", names)}") is not { } scalar) return null;
        // Kubernetes enum values are case-sensitive; "activepassive" is rejected like the API server would.
        if (names.Contains(scalar.Value, StringComparer.Ordinal)) return Enum.Parse(type, scalar.Value!);
        Add(path, node, $"{ValueText(scalar)} must be one of {string.Join(", ", names)}");
        return null;
    }

    private object? BindTimestamp(YamlNode node, string path)
    {
        if (Scalar(node, path, "an RFC 3339 timestamp") is not { } scalar) return null;
        if (DateTimeOffset.TryParse(scalar.Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)) return value;
        Add(path, node, $"{ValueText(scalar)} must be an RFC 3339 timestamp");
        return null;
    }

    private object? BindDuration(YamlNode node, string path)
    {
        if (Scalar(node, path, "a duration") is not { } scalar) return null;
        if (Duration.TryParse(scalar.Value, out var value, out var reason)) return value;
        Add(path, node, $"{ValueText(scalar)} {reason}");
        return null;
    }

    private YamlScalarNode? Scalar(YamlNode node, string path, string expected)
    {
        if (node is YamlScalarNode scalar) return scalar;
        Add(path, node, $"must be {expected}, not {Describe(node)}");
        return null;
    }

    private void Add(string path, YamlNode node, string message) => _problems.Add((path, LineOf(node), message));

    private static int LineOf(YamlNode node) => (int)node.Start.Line;

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode scalar => $"the value {ValueText(scalar)}",
        _ => "an alias",
    };

    private static string ValueText(YamlScalarNode scalar) => FieldRules.Quote(scalar.Value ?? "");

    private static string UnknownFieldMessage(string key, IEnumerable<string> known)
    {
        var closest = known.Select(name => (name, distance: EditDistance(key.ToLowerInvariant(), name.ToLowerInvariant())))
            .OrderBy(c => c.distance).ThenBy(c => c.name, StringComparer.Ordinal).FirstOrDefault();
        return closest.name is not null && closest.distance <= Math.Max(2, key.Length / 3)
            ? $"unknown field {FieldRules.Quote(key)} (did you mean {FieldRules.Quote(closest.name)}?)"
            : $"unknown field {FieldRules.Quote(key)} (known fields: {string.Join(", ", known.Order(StringComparer.Ordinal))})";
    }

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }

    private static readonly ConcurrentDictionary<Type, Dictionary<string, JsonPropertyInfo>> PropertyCache = new();

    /// <summary>The fields a manifest may set: the contract's properties that have a setter, by their JSON name.</summary>
    private static Dictionary<string, JsonPropertyInfo> SettablePropertiesByName(JsonTypeInfo contract) =>
        PropertyCache.GetOrAdd(contract.Type, _ => contract.Properties
            .Where(property => property.Set is not null)
            .ToDictionary(property => property.Name, StringComparer.Ordinal));
}
