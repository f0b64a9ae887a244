using System.Text.RegularExpressions;
using NginxHa.Core.Resources;
using NginxHa.Core.Resources.Validation;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace NginxHa.Core.Manifests;

/// <summary>
/// Loads multi-document YAML manifests (what `kubectl apply -f` takes) into typed resources. Never throws
/// on bad input: every problem becomes a <see cref="ValidationError"/> whose Source is "file:line".
/// </summary>
public static partial class ManifestLoader
{
    private sealed record Kind(string ApiVersion, string Name, Type Type, bool Namespaced);

    private static readonly Kind[] Kinds =
    [
        new(ApiGroup.ApiVersion, VirtualIpGroup.KindName, typeof(VirtualIpGroup), Namespaced: true),
        new(ApiGroup.ApiVersion, "NginxBackendPool", typeof(NginxBackendPool), Namespaced: true),
        new(ApiGroup.ApiVersion, NodeHaConfig.KindName, typeof(NodeHaConfig), Namespaced: false),
        new(Node.CoreApiVersion, Node.KindName, typeof(Node), Namespaced: false),
    ];

    /// <summary>kubectl's default namespace for namespaced objects that name none.</summary>
    public const string DefaultNamespace = "default";

    private sealed class Loaded(Resource resource, string location, Func<string, string> locationOf)
    {
        public Resource Resource { get; } = resource;
        public string Location { get; } = location;

        /// <summary>"file:line" of a field path of this object.</summary>
        public Func<string, string> LocationOf { get; } = locationOf;
        public bool Failed { get; set; }
        public string ObjectName => $"{Resource.Kind} {Resource.DisplayName}";
    }

    private sealed class Collector
    {
        public List<Loaded> Objects { get; } = new();
        public List<ValidationError> Errors { get; } = new();
        public List<ValidationError> Warnings { get; } = new();
    }

    /// <summary>Reads and loads files together, so references and duplicates are checked across all of them.</summary>
    public static ManifestSet LoadFiles(IEnumerable<string> paths)
    {
        var collector = new Collector();
        foreach (var path in paths)
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                collector.Errors.Add(new ValidationError(path, "", "", $"cannot read the file: {e.Message}"));
                continue;
            }
            Parse(path, text, collector);
        }
        return Assemble(collector);
    }

    public static ManifestSet LoadText(string sourceName, string yaml)
    {
        var collector = new Collector();
        Parse(sourceName, yaml, collector);
        return Assemble(collector);
    }

    private static void Parse(string source, string yaml, Collector collector)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            // A syntax error leaves the rest of the file unreadable; kubectl rejects the whole file too.
            collector.Errors.Add(new ValidationError($"{source}:{e.Start.Line}", "", "", $"YAML syntax error: {StripMarks(e.Message)}"));
            return;
        }

        foreach (var document in stream.Documents)
            ParseDocument(source, document.RootNode, collector);
    }

    private static void ParseDocument(string source, YamlNode root, Collector collector)
    {
        if (root is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" }) return; // empty document
        var location = $"{source}:{root.Start.Line}";
        if (root is not YamlMappingNode mapping)
        {
            collector.Errors.Add(new ValidationError(location, "", "", "a manifest document must be a mapping with apiVersion, kind and metadata"));
            return;
        }

        var apiVersion = ScalarField(mapping, "apiVersion");
        var kindName = ScalarField(mapping, "kind");
        if (apiVersion is null || kindName is null)
        {
            if (apiVersion is null) collector.Errors.Add(new ValidationError(location, kindName ?? "", "apiVersion", "is required"));
            if (kindName is null) collector.Errors.Add(new ValidationError(location, "", "kind", "is required"));
            return;
        }

        if (apiVersion == "v1" && kindName == "List")
        {
            if (mapping.Children.TryGetValue(new YamlScalarNode("items"), out var items) && items is YamlSequenceNode list)
                foreach (var item in list) ParseDocument(source, item, collector);
            else
                collector.Errors.Add(new ValidationError(location, "List", "items", "must be a list of objects"));
            return;
        }

        var kind = Kinds.FirstOrDefault(k => k.Name == kindName);
        if (kind is null)
        {
            collector.Errors.Add(new ValidationError(location, "", "kind",
                $"{FieldRules.Quote(kindName)} is not supported (supported: {string.Join(", ", Kinds.Select(k => $"{k.ApiVersion} {k.Name}"))})"));
            return;
        }
        if (kind.ApiVersion != apiVersion)
        {
            collector.Errors.Add(new ValidationError(location, kindName, "apiVersion",
                $"{FieldRules.Quote(apiVersion)} is not supported for {kindName} (use {kind.ApiVersion})"));
            return;
        }

        var binder = new YamlBinder();
        var resource = (Resource)binder.Bind(mapping, kind.Type, "")!;
        var at = (string path) => $"{source}:{binder.LineOf(path, (int)root.Start.Line)}";
        var loaded = new Loaded(resource, location, at);

        if (kind.Namespaced && string.IsNullOrEmpty(resource.Metadata.Namespace))
            resource.Metadata.Namespace = DefaultNamespace;
        else if (!kind.Namespaced && resource.Metadata.Namespace is { Length: > 0 } ns)
        {
            collector.Warnings.Add(new ValidationError(at("metadata.namespace"), $"{kind.Name} {resource.Metadata.Name}", "metadata.namespace",
                $"{FieldRules.Quote(ns)} is ignored: {kind.Name} is cluster-scoped"));
            resource.Metadata.Namespace = null;
        }

        foreach (var (path, line, message) in binder.Problems)
            Fail(collector, loaded, new ValidationError($"{source}:{line}", loaded.ObjectName, path, message));
        // A field the binder could not read keeps its default; validating that default would only repeat the problem.
        var unreadable = binder.Problems.Select(p => p.Path).ToHashSet();
        foreach (var (path, message) in ValidateObject(resource).Where(p => !unreadable.Contains(p.Path)))
            Fail(collector, loaded, new ValidationError(at(path), loaded.ObjectName, path, message));
        collector.Objects.Add(loaded);
    }

    private static IEnumerable<(string Path, string Message)> ValidateObject(Resource resource)
    {
        if (resource is IValidatable validatable) return validatable.Validate();
        return MetadataValidator.Validate(resource.Metadata, namespaced: resource.Metadata.Namespace is not null);
    }

    private static ManifestSet Assemble(Collector collector)
    {
        var firstByKey = new Dictionary<(string, string), Loaded>();
        foreach (var loaded in collector.Objects)
        {
            var key = (loaded.Resource.Kind, loaded.Resource.DisplayName);
            if (firstByKey.TryGetValue(key, out var first))
            {
                // Which copy was meant is unknowable, so neither is used.
                Fail(collector, loaded, new ValidationError(loaded.Location, loaded.ObjectName, "", $"is defined twice (also at {first.Location})"));
                first.Failed = true;
            }
            else firstByKey[key] = loaded;
        }

        CheckReferences(collector);

        return new ManifestSet(
            collector.Objects.Where(o => !o.Failed).Select(o => o.Resource).ToList(),
            collector.Errors,
            collector.Warnings);
    }

    private static void CheckReferences(Collector collector)
    {
        var pools = collector.Objects.Select(o => o.Resource).OfType<NginxBackendPool>().Select(p => p.DisplayName).ToHashSet();
        var nodes = collector.Objects.Select(o => o.Resource).OfType<Node>().ToList();
        foreach (var loaded in collector.Objects)
        {
            if (loaded.Resource is not VirtualIpGroup group) continue;
            var ns = group.Metadata.Namespace!;
            if (group.Spec.BackendPoolRef is { Length: > 0 } poolName && FieldRules.ObjectName(poolName) is null && !pools.Contains($"{ns}/{poolName}"))
                Fail(collector, loaded, new ValidationError(loaded.LocationOf("spec.backendPoolRef"), loaded.ObjectName, "spec.backendPoolRef",
                    $"NginxBackendPool {FieldRules.Quote(poolName)} not found in namespace {FieldRules.Quote(ns)}"));

            // Without Node documents the nodes come from elsewhere (the cluster), so there is nothing to check against.
            if (nodes.Count > 0 && !nodes.Any(n => group.Spec.NodeSelector.Matches(n.Metadata.Labels)))
                collector.Warnings.Add(new ValidationError(loaded.LocationOf("spec.nodeSelector"), loaded.ObjectName, "spec.nodeSelector",
                    $"matches none of the {nodes.Count} Node objects, so no node carries its virtual IPs"));
        }
    }

    private static void Fail(Collector collector, Loaded loaded, ValidationError error)
    {
        loaded.Failed = true;
        collector.Errors.Add(error);
    }

    private static string? ScalarField(YamlMappingNode mapping, string name) =>
        mapping.Children.TryGetValue(new YamlScalarNode(name), out var node) && node is YamlScalarNode { Value: { Length: > 0 } value }
            ? value
            : null;

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();

    private static string StripMarks(string message) => MarkPrefix().Replace(message, "");
}
