using NginxHa.Core.Resources;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace NginxHa.Core.Manifests;

/// <summary>Writes resources as the YAML documents kubectl applies and <see cref="ManifestLoader"/> reads back.</summary>
public static class ManifestWriter
{
    static readonly ISerializer Serializer = new SerializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull | DefaultValuesHandling.OmitEmptyCollections)
        .WithIndentedSequences()
        .WithQuotingNecessaryStrings()
        .Build();

    public static string Write(IEnumerable<Resource> resources) =>
        string.Join("---\n", resources.Select(r => Serializer.Serialize(r)));
}
