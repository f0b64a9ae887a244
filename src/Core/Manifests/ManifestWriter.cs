using System.Diagnostics.CodeAnalysis;
using NginxHa.Core.Resources;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace NginxHa.Core.Manifests;

/// <summary>Writes resources as the YAML documents kubectl applies and <see cref="ManifestLoader"/> reads back.</summary>
/// <remarks>YamlDotNet's serializer reflects over the resource types at run time; only the operator's `plan` command
/// writes manifests, and the node agent (published NativeAOT) never does.</remarks>
[RequiresUnreferencedCode(NotForAot)]
[RequiresDynamicCode(NotForAot)]
public static class ManifestWriter
{
    private const string NotForAot = "YamlDotNet's reflection-based serializer: not for trimmed or NativeAOT builds.";

    static readonly ISerializer Serializer = new SerializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull | DefaultValuesHandling.OmitEmptyCollections)
        .WithIndentedSequences()
        .WithQuotingNecessaryStrings(quoteYaml1_1Strings: true) // kubectl reads YAML 1.1: a bare Off is false
        .Build();

    public static string Write(IEnumerable<Resource> resources) =>
        string.Join("---\n", resources.Select(r => Serializer.Serialize(r)));
}
