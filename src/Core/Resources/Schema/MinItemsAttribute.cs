namespace NginxHa.Core.Resources.Schema;

/// <summary>
/// OpenAPI <c>minItems</c> of a list field in the generated CRD. Ours rather than DataAnnotations' MinLength, whose
/// runtime validation reflects over any type's Count and so is not trim-safe; only the CRD generator reads this one.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class MinItemsAttribute(int minItems) : Attribute
{
    public int MinItems { get; } = minItems >= 0 ? minItems : throw new ArgumentOutOfRangeException(nameof(minItems), minItems, "minItems must not be negative");
}
