namespace NginxHa.Core.Resources.Schema;

public enum EntityScope { Namespaced, Cluster }

/// <summary>Marks a resource type as a custom resource; the CRD generator reads it.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class KubernetesEntityAttribute(string kind, string plural) : Attribute
{
    public string Group { get; init; } = ApiGroup.Group;
    public string Version { get; init; } = ApiGroup.Version;
    public string Kind { get; } = kind;
    public string Plural { get; } = plural;
    public EntityScope Scope { get; init; } = EntityScope.Namespaced;
    public string[] ShortNames { get; init; } = [];

    /// <summary>`kubectl get nginx-ha` lists every kind of this category.</summary>
    public string[] Categories { get; init; } = [Category];

    public const string Category = "nginx-ha";
}

/// <summary>An additionalPrinterColumn of the generated CRD (what `kubectl get` shows).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class PrinterColumnAttribute(string name, string jsonPath, string type = "string") : Attribute
{
    public string Name { get; } = name;
    public string JsonPath { get; } = jsonPath;
    public string Type { get; } = type;
    /// <summary>1 shows the column only with `kubectl get -o wide`.</summary>
    public int Priority { get; init; }
    public string? Description { get; init; }
}

/// <summary>The CRD exposes this property as the status subresource.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class StatusSubresourceAttribute : Attribute;
