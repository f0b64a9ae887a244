using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using NginxHa.Core.Manifests;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Manifests;

/// <summary>
/// The loader takes field names from a compile-time contract (so it works under NativeAOT). This pins that contract
/// to the C# types: every object type reachable from a kind accepts exactly its settable public properties, each
/// under its camelCase name, as listed in the "unknown field" message.
/// </summary>
public partial class ManifestFieldNamesTests
{
    private const string UnknownField = "zzzNoSuchField";

    public static TheoryData<string, string, string> ObjectFields()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (apiVersion, kind, type) in new[]
                 {
                     (ApiGroup.ApiVersion, VirtualIpGroup.KindName, typeof(VirtualIpGroup)),
                     (ApiGroup.ApiVersion, "NginxBackendPool", typeof(NginxBackendPool)),
                     (ApiGroup.ApiVersion, NodeHaConfig.KindName, typeof(NodeHaConfig)),
                     (Node.CoreApiVersion, Node.KindName, typeof(Node)),
                 })
        {
            foreach (var (path, objectType) in ObjectTypesUnder(type, ""))
                data.Add($"{apiVersion} {kind}", path, string.Join(", ", ExpectedFieldNames(objectType).Order(StringComparer.Ordinal)));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ObjectFields))]
    public void EveryObjectAcceptsItsSettablePropertiesByCamelCaseName(string apiVersionAndKind, string path, string expectedFields)
    {
        var (apiVersion, kind) = (apiVersionAndKind.Split(' ')[0], apiVersionAndKind.Split(' ')[1]);
        var set = ManifestLoader.LoadText("fields.yaml", DocumentWithUnknownFieldAt(apiVersion, kind, path));

        var unknown = set.Errors.Select(e => KnownFieldsMessage().Match(e.Message)).Where(m => m.Success).ToList();
        var message = Assert.Single(unknown);
        Assert.Equal(expectedFields, message.Groups["fields"].Value);
        Assert.Contains(set.Errors, e => e.Path == path && e.Message.StartsWith($"unknown field \"{UnknownField}\""));
    }

    /// <summary>Each object type under <paramref name="type"/>, with the path the loader names it by (lists as [0]).</summary>
    private static IEnumerable<(string Path, Type Type)> ObjectTypesUnder(Type type, string path)
    {
        yield return (path, type);
        foreach (var property in SettableProperties(type))
        {
            var childPath = path.Length == 0 ? FieldName(property) : $"{path}.{FieldName(property)}";
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(List<>))
            {
                propertyType = propertyType.GetGenericArguments()[0];
                childPath += "[0]";
            }
            if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                propertyType = propertyType.GetGenericArguments()[1];
                childPath += "[\"k\"]";
            }
            if (propertyType.IsClass && propertyType != typeof(string))
                foreach (var nested in ObjectTypesUnder(propertyType, childPath)) yield return nested;
        }
    }

    /// <summary>The manifest (in YAML's JSON form) that sets only the unknown field, at <paramref name="path"/>.</summary>
    private static string DocumentWithUnknownFieldAt(string apiVersion, string kind, string path)
    {
        var value = $"{{\"{UnknownField}\": 1}}";
        var steps = path.Length == 0 ? [] : PathStep().Matches(path).Select(m => m.Value).ToArray();
        foreach (var step in steps.Reverse())
            value = step switch
            {
                "[0]" => $"[{value}]",
                ['[', ..] => $"{{\"{step[2..^2]}\": {value}}}",
                _ => $"{{\"{step.TrimStart('.')}\": {value}}}",
            };
        var header = $"\"apiVersion\": \"{apiVersion}\", \"kind\": \"{kind}\"";
        return path.Length == 0
            ? $"{{{header}, \"metadata\": {{\"name\": \"x\"}}, \"{UnknownField}\": 1}}"
            : path.StartsWith("metadata")
                ? $"{{{header}, {value[1..^1].Replace("\"metadata\": {", "\"metadata\": {\"name\": \"x\", ")}}}"
                : $"{{{header}, \"metadata\": {{\"name\": \"x\"}}, {value[1..^1]}}}";
    }

    private static IEnumerable<string> ExpectedFieldNames(Type type) => SettableProperties(type).Select(FieldName);

    private static IEnumerable<PropertyInfo> SettableProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0 && !p.IsDefined(typeof(JsonIgnoreAttribute)));

    private static string FieldName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? char.ToLowerInvariant(property.Name[0]) + property.Name[1..];

    [GeneratedRegex(@"\(known fields: (?<fields>[^)]*)\)$")]
    private static partial Regex KnownFieldsMessage();

    [GeneratedRegex(@"\[0\]|\[""[^""]*""\]|\.?[^.\[]+")]
    private static partial Regex PathStep();
}
