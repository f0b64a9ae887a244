namespace NginxHa.Core.Resources.Schema;

/// <summary>
/// OpenAPI <c>pattern</c> of a string field in the generated CRD; on a list of strings it applies to each item.
/// The C# validators stay the checkers of standalone mode: a pattern here mirrors one of their rules for the server.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class PatternAttribute(string pattern) : Attribute
{
    public string Pattern { get; } = pattern;
}

/// <summary>OpenAPI <c>maxItems</c> of a list field. CEL rules over a list need it to bound their cost.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class MaxItemsAttribute(int maxItems) : Attribute
{
    public int MaxItems { get; } = maxItems >= 0 ? maxItems : throw new ArgumentOutOfRangeException(nameof(maxItems), maxItems, "maxItems must not be negative");
}

/// <summary>
/// OpenAPI <c>maxLength</c> of each string item of a list (on a string field use DataAnnotations' StringLength).
/// CEL rules over strings need a bound to estimate their cost.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ItemMaxLengthAttribute(int maxLength) : Attribute
{
    public int MaxLength { get; } = maxLength;
}

/// <summary><c>x-kubernetes-list-type: set</c>: the server refuses a list with the same item twice.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ListSetAttribute : Attribute;

public enum CelTarget
{
    /// <summary>The schema of the class or property the attribute sits on.</summary>
    Self,
    /// <summary>The schema of each item of the list property the attribute sits on.</summary>
    Items,
}

/// <summary>
/// The generated CRD of this kind keeps only the CEL rules on the kind itself: the rules of the types it embeds (VRRP
/// instances, pools) are left to the agent, which checks every config again, keeps its last good one and reports why.
/// For a kind only the operator writes, from objects the server has already checked: the server evaluates every rule of
/// the whole object on each write, agents' status reports included, and for NodeHaConfig that was 37 % of an apply and
/// 47 % of a status write (docs/benchmarks.md, "what the NodeHaConfig CEL rules cost the server").
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RootCelRulesOnlyAttribute : Attribute;

/// <summary>
/// A CEL rule (<c>x-kubernetes-validations</c>) of the generated CRD: the server's form of a cross-field check that
/// the C# validator makes. <see cref="FieldPath"/> (relative, e.g. <c>.authSecretRef</c>) makes the server name the
/// same field the C# validator names; <see cref="Message"/> should read like the C# validator's message.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Property, AllowMultiple = true, Inherited = false)]
public sealed class CelRuleAttribute(string rule, string message) : Attribute
{
    public string Rule { get; } = rule;
    public string Message { get; } = message;
    public string? FieldPath { get; init; }
    public CelTarget Target { get; init; } = CelTarget.Self;
}

/// <summary>A set of <see cref="CelRuleAttribute"/>s several classes share (e.g. <see cref="VrrpRules.SettingsAttribute"/>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public abstract class CelRuleSetAttribute : Attribute
{
    public abstract IReadOnlyList<CelRuleAttribute> Rules { get; }
}

/// <summary>Regular expressions shared by the schema attributes and the generated docs.</summary>
public static class SchemaPatterns
{
    /// <summary>Kubernetes-style duration as <see cref="Duration"/> parses it: "1s", "100ms", "1m30s", "1.5s".</summary>
    public const string Duration = @"^([0-9]+(\.[0-9]+)?(ms|h|m|s))+$";

    /// <summary>An IPv4 address (dotted quad) or an IPv6 address, with an optional prefix length.</summary>
    public const string AddressWithPrefix =
        @"^(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(/([1-9]|[12][0-9]|3[0-2]))?"
        + @"|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(/([1-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))?)$";

    /// <summary>An IPv4 or IPv6 address without prefix.</summary>
    public const string Address =
        @"^(((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$";

    /// <summary>A Kubernetes object name: a lowercase RFC 1123 subdomain.</summary>
    public const string DnsSubdomain = @"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

    /// <summary>A Kubernetes namespace name: a lowercase RFC 1123 label.</summary>
    public const string DnsLabel = @"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

    /// <summary>"namespace/name".</summary>
    public const string NamespacedName = @"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

    /// <summary>nginx time: "60s", "500ms", "1h", "2d" (<see cref="Nginx.NginxSyntax.IsDuration"/>).</summary>
    public const string NginxDuration = @"^[0-9]{1,9}(ms|s|m|h|d)?$";

    /// <summary>nginx size: "16k", "8m" (<see cref="Nginx.NginxSyntax.IsSize"/>).</summary>
    public const string NginxSize = @"^[0-9]{1,12}[kKmM]?$";

    /// <summary>nginx offset: "8m", "1g" (<see cref="Nginx.NginxSyntax.IsOffset"/>).</summary>
    public const string NginxOffset = @"^[0-9]{1,12}[kKmMgG]?$";

    /// <summary>An IP address or a DNS host name.</summary>
    public const string AddressOrHostName = @"^[A-Za-z0-9.:-]{1,253}$";

    /// <summary>A relative or absolute file path without ".." (<see cref="Nginx.NginxSyntax.IsSafeFilePath"/> checks the segments).</summary>
    public const string SafeFilePath = @"^[A-Za-z0-9._/+-]+$";

    /// <summary>A key of a Secret.</summary>
    public const string SecretKey = @"^[-._a-zA-Z0-9]+$";
}
