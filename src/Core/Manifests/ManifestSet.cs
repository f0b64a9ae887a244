using NginxHa.Core.Resources;

namespace NginxHa.Core.Manifests;

/// <summary>
/// The result of loading manifests: the objects that passed every check (in file order) and every
/// problem found. An object with any error is left out of <see cref="Objects"/>.
/// </summary>
public sealed class ManifestSet(IReadOnlyList<Resource> objects, IReadOnlyList<ValidationError> errors, IReadOnlyList<ValidationError> warnings,
    IReadOnlyDictionary<Resource, Func<string, string>>? locations = null)
{
    /// <summary>"file:line" of a field of a loaded object (or of its nearest parent in the file); "" when unknown.</summary>
    public string LocationOf(Resource resource, string path) =>
        locations is not null && locations.TryGetValue(resource, out var locate) ? locate(path) : "";

    public IReadOnlyList<Resource> Objects { get; } = objects;
    public IReadOnlyList<ValidationError> Errors { get; } = errors;

    /// <summary>Not fatal, e.g. a nodeSelector that matches none of the Node documents.</summary>
    public IReadOnlyList<ValidationError> Warnings { get; } = warnings;

    public bool IsValid => Errors.Count == 0;

    public IReadOnlyList<VirtualIpGroup> VirtualIpGroups => Objects.OfType<VirtualIpGroup>().ToList();
    public IReadOnlyList<NginxBackendPool> NginxBackendPools => Objects.OfType<NginxBackendPool>().ToList();
    public IReadOnlyList<NodeHaConfig> NodeHaConfigs => Objects.OfType<NodeHaConfig>().ToList();
    public IReadOnlyList<Node> Nodes => Objects.OfType<Node>().ToList();
}
