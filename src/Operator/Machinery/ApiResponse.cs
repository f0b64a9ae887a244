using System.Text.Json;

namespace NginxHa.Operator.Machinery;

/// <summary>
/// Reads the metadata of a custom-object write's answer where it is: KubernetesClient hands it back as a JsonElement, and
/// turning the whole answer (tens of KB with its managedFields) into text and back into an object cost more CPU than the
/// rest of the write.
/// </summary>
public static class ApiResponse
{
    /// <summary>The answer's metadata object, or null when the answer is not a JSON object with one.</summary>
    public static JsonElement? Metadata(object? response) =>
        response is JsonElement { ValueKind: JsonValueKind.Object } element
        && element.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
            ? metadata
            : null;
}
