using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using NginxHa.Core.Resources;
using NginxHa.Core.Resources.Schema;

namespace NginxHa.Operator.Crds;

/// <summary>
/// The structural OpenAPI v3 schema of a resource type, read by reflection from the C# types: their properties
/// (camelCase, as the manifest loader reads them), attributes and initial values. An initial value is what
/// standalone mode assumes when a field is left out, so it becomes the server's default too.
/// </summary>
public static class SchemaBuilder
{
    /// <summary>The schema of a resource kind: apiVersion, kind, metadata, then the type's own fields.</summary>
    public static OrderedDictionary<string, object?> ForResource(Type resourceType)
    {
        var properties = new OrderedDictionary<string, object?>
        {
            ["apiVersion"] = new OrderedDictionary<string, object?> { ["type"] = "string", ["description"] = "nginx-ha.io/v1alpha1" },
            ["kind"] = new OrderedDictionary<string, object?> { ["type"] = "string", ["description"] = KindOf(resourceType) },
            ["metadata"] = new OrderedDictionary<string, object?> { ["type"] = "object" },
        };
        var schema = ForObject(resourceType, properties);
        if (resourceType.GetCustomAttribute<RootCelRulesOnlyAttribute>() is not null)
            foreach (var field in properties.Values)
                RemoveRules(field);
        return schema;
    }

    /// <summary>Every CEL rule at or below <paramref name="node"/> (<see cref="RootCelRulesOnlyAttribute"/>).</summary>
    static void RemoveRules(object? node)
    {
        switch (node)
        {
            case OrderedDictionary<string, object?> map:
                map.Remove("x-kubernetes-validations");
                foreach (var value in map.Values) RemoveRules(value);
                break;
            case List<object?> list:
                foreach (var value in list) RemoveRules(value);
                break;
        }
    }

    public static string FieldName(PropertyInfo property) => JsonNamingPolicy.CamelCase.ConvertName(property.Name);

    /// <summary>Public properties with a public setter, the fields a manifest may set, in declaration order.</summary>
    public static IEnumerable<PropertyInfo> Fields(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetCustomAttribute<YamlDotNet.Serialization.YamlIgnoreAttribute>() is null)
            .OrderBy(p => p.MetadataToken);

    static string KindOf(Type type) => type.GetCustomAttribute<KubernetesEntityAttribute>()?.Kind ?? type.Name;

    static OrderedDictionary<string, object?> ForObject(Type type, OrderedDictionary<string, object?>? leading = null)
    {
        var schema = new OrderedDictionary<string, object?> { ["type"] = "object" };
        if (type.GetCustomAttribute<DescriptionAttribute>() is { } description) schema["description"] = description.Description;

        var properties = leading ?? new OrderedDictionary<string, object?>();
        var required = new List<object?>();
        var instance = Activator.CreateInstance(type);
        foreach (var property in Fields(type))
        {
            if (property.DeclaringType == typeof(Resource)) continue;
            properties[FieldName(property)] = ForProperty(property, instance);
            if (property.GetCustomAttribute<RequiredAttribute>() is not null) required.Add(FieldName(property));
        }
        if (required.Count > 0) schema["required"] = required;
        schema["properties"] = properties;
        AddRules(schema, type.GetCustomAttributes<CelRuleSetAttribute>().SelectMany(set => set.Rules).Concat(type.GetCustomAttributes<CelRuleAttribute>()));
        return schema;
    }

    static OrderedDictionary<string, object?> ForProperty(PropertyInfo property, object? instance)
    {
        var schema = ForType(property.PropertyType);
        var ordered = new OrderedDictionary<string, object?>();
        // Description first: it reads best in `kubectl explain` and in the YAML.
        var description = property.GetCustomAttribute<DescriptionAttribute>()?.Description
                          ?? schema.GetValueOrDefault("description") as string;
        ordered["type"] = schema["type"];
        if (description is not null) ordered["description"] = description;
        foreach (var (key, value) in schema)
            if (key is not ("type" or "description")) ordered[key] = value;
        schema = ordered;

        if (DefaultOf(property, instance) is { } defaultValue) schema["default"] = defaultValue;

        var isList = schema["type"] is "array";
        var target = isList ? (OrderedDictionary<string, object?>)schema["items"]! : schema;
        if (property.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            target["minimum"] = Convert.ToInt64(range.Minimum, System.Globalization.CultureInfo.InvariantCulture);
            target["maximum"] = Convert.ToInt64(range.Maximum, System.Globalization.CultureInfo.InvariantCulture);
        }
        if (property.GetCustomAttribute<StringLengthAttribute>() is { } length)
        {
            if (length.MinimumLength > 0) schema["minLength"] = length.MinimumLength;
            schema["maxLength"] = length.MaximumLength;
        }
        if (property.GetCustomAttribute<PatternAttribute>() is { } pattern) target["pattern"] = pattern.Pattern;
        if (property.GetCustomAttribute<ItemMaxLengthAttribute>() is { } itemLength) target["maxLength"] = itemLength.MaxLength;
        if (property.GetCustomAttribute<MinItemsAttribute>() is { } minItems) schema["minItems"] = minItems.MinItems;
        if (property.GetCustomAttribute<MaxItemsAttribute>() is { } maxItems) schema["maxItems"] = maxItems.MaxItems;
        if (property.GetCustomAttribute<ListSetAttribute>() is not null) schema["x-kubernetes-list-type"] = "set";

        var rules = property.GetCustomAttributes<CelRuleAttribute>().ToList();
        AddRules(schema, rules.Where(r => r.Target == CelTarget.Self));
        AddRules(target, rules.Where(r => r.Target == CelTarget.Items));
        return schema;
    }

    static OrderedDictionary<string, object?> ForType(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string)) return new() { ["type"] = "string" };
        if (type == typeof(bool)) return new() { ["type"] = "boolean" };
        if (type == typeof(int)) return new() { ["type"] = "integer", ["format"] = "int32" };
        if (type == typeof(long)) return new() { ["type"] = "integer", ["format"] = "int64" };
        if (type == typeof(double)) return new() { ["type"] = "number" };
        if (type == typeof(DateTimeOffset)) return new() { ["type"] = "string", ["format"] = "date-time" };
        if (type.IsEnum) return new() { ["type"] = "string", ["enum"] = Enum.GetNames(type).Cast<object?>().ToList() };
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
            return new() { ["type"] = "array", ["items"] = ForType(type.GetGenericArguments()[0]) };
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string))
            return new() { ["type"] = "object", ["additionalProperties"] = ForType(type.GetGenericArguments()[1]) };
        if (type.IsClass && type.GetConstructor(Type.EmptyTypes) is not null) return ForObject(type);
        throw new NotSupportedException($"no OpenAPI schema for {type}");
    }

    /// <summary>[DefaultValue], else the value a new object starts with when standalone mode reads it without the field.</summary>
    static object? DefaultOf(PropertyInfo property, object? instance)
    {
        if (property.GetCustomAttribute<DefaultValueAttribute>() is { } attribute) return Plain(attribute.Value);
        if (property.GetCustomAttribute<RequiredAttribute>() is not null || instance is null) return null;
        var value = property.GetValue(instance);
        return value switch
        {
            null => null,
            Enum or bool => Plain(value),
            int i => i != 0 ? i : null,
            long l => l != 0 ? l : null,
            string s => s.Length > 0 ? s : null,
            System.Collections.IEnumerable => null, // an absent list and an empty one mean the same
            // A nested object that always exists gets its fields' defaults, spelled out: the server checks a default
            // against the schema and its rules as it stands, without filling in nested defaults first.
            _ when value.GetType().IsClass => ObjectDefault(value),
            _ => null,
        };
    }

    /// <summary>The default of an object that always exists; none when it has required fields (the user must give them).</summary>
    static OrderedDictionary<string, object?>? ObjectDefault(object value)
    {
        var fields = Fields(value.GetType()).ToList();
        if (fields.Any(f => f.GetCustomAttribute<RequiredAttribute>() is not null)) return null;
        var map = new OrderedDictionary<string, object?>();
        foreach (var field in fields)
            if (DefaultOf(field, value) is { } fieldDefault) map[FieldName(field)] = fieldDefault;
        return map;
    }

    static object? Plain(object? value) => value is Enum e ? e.ToString() : value;

    static void AddRules(OrderedDictionary<string, object?> schema, IEnumerable<CelRuleAttribute> rules)
    {
        var list = schema.GetValueOrDefault("x-kubernetes-validations") as List<object?> ?? new List<object?>();
        foreach (var rule in rules)
        {
            var entry = new OrderedDictionary<string, object?> { ["rule"] = rule.Rule, ["message"] = rule.Message };
            if (rule.FieldPath is not null) entry["fieldPath"] = rule.FieldPath;
            list.Add(entry);
        }
        if (list.Count > 0) schema["x-kubernetes-validations"] = list;
    }
}
