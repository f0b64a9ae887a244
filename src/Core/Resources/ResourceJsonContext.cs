using System.Text.Json.Serialization;

namespace NginxHa.Core.Resources;

/// <summary>
/// The JSON contract of the resource types (camelCase field names, setters, constructors), generated at compile
/// time. Kubernetes defines objects by their JSON fields and kubectl turns YAML into JSON, so the manifest binder
/// reads YAML through this contract too; being generated, it needs no reflection and survives trimming and NativeAOT.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(VirtualIpGroup))]
[JsonSerializable(typeof(NginxBackendPool))]
[JsonSerializable(typeof(NodeHaConfig))]
[JsonSerializable(typeof(Node))]
internal sealed partial class ResourceJsonContext : JsonSerializerContext;
