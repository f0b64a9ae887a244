using System.Text.RegularExpressions;
using NginxHa.Core.Resources;
using NginxHa.Core.Resources.Validation;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
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

    /// <summary>Largest manifest file read. Larger ones are refused before they are read, so a huge file costs nothing.</summary>
    public const int MaxFileBytes = 4 * 1024 * 1024;

    /// <summary>Deepest nesting of mappings and sequences accepted; a real manifest needs about ten.</summary>
    public const int MaxDepth = 64;

    /// <summary>Reads and loads files together, so references and duplicates are checked across all of them.</summary>
    public static ManifestSet LoadFiles(IEnumerable<string> paths)
    {
        var collector = new Collector();
        foreach (var path in paths)
        {
            if (ReadCapped(path, out var problem) is { } text) Parse(path, text, collector);
            else collector.Errors.Add(new ValidationError(path, "", "", problem!));
        }
        return Assemble(collector);
    }

    public static ManifestSet LoadText(string sourceName, string yaml)
    {
        var collector = new Collector();
        if (yaml.Length > MaxFileBytes)
            collector.Errors.Add(new ValidationError(sourceName, "", "", TooLarge(yaml.Length)));
        else
            Parse(sourceName, yaml, collector);
        return Assemble(collector);
    }

    private static string TooLarge(long bytes) => $"the file is {bytes} bytes, more than the {MaxFileBytes} a manifest file may have";

    private static string? ReadCapped(string path, out string? problem)
    {
        problem = null;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            // Read one byte more than allowed: the length a file claims may change while it is read.
            var buffer = new byte[MaxFileBytes + 1];
            int total = 0, read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0) total += read;
            if (total > MaxFileBytes)
            {
                problem = TooLarge(Math.Max(total, stream.CanSeek ? stream.Length : total));
                return null;
            }
            return new System.Text.UTF8Encoding(false).GetString(buffer, 0, total).TrimStart('\uFEFF');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            problem = $"cannot read the file: {e.Message}";
            return null;
        }
    }

    /// <summary>
    /// Parses one file's text. Whatever the text, this returns: a syntax error, a nesting too deep, or any exception
    /// out of the parser, the binder or a validator becomes an error with "file:line", never an exception.
    /// </summary>
    private static void Parse(string source, string yaml, Collector collector)
    {
        var line = 1L;
        var parsed = false;
        try
        {
            // First a pass over the parser's events, which keeps no tree and does not recurse: it finds the nesting
            // depth before anything that recurses (the node tree, the binder) sees the text.
            var parser = new Parser(new StringReader(yaml));
            var depth = 0;
            while (parser.MoveNext())
            {
                var current = parser.Current!;
                line = current.Start.Line;
                if (current is MappingStart or SequenceStart && ++depth > MaxDepth)
                {
                    collector.Errors.Add(new ValidationError($"{source}:{line}", "", "",
                        $"the YAML nests deeper than {MaxDepth} levels; a manifest needs far fewer"));
                    return;
                }
                if (current is MappingEnd or SequenceEnd) depth--;
            }

            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            parsed = true;
            foreach (var document in stream.Documents)
            {
                line = document.RootNode.Start.Line;
                ParseDocument(source, document.RootNode, collector);
            }
        }
        catch (YamlException e)
        {
            // A syntax error leaves the rest of the file unreadable; kubectl rejects the whole file too.
            collector.Errors.Add(new ValidationError($"{source}:{(e.Start.Line > 0 ? e.Start.Line : line)}", "", "",
                $"YAML syntax error: {StripMarks(e.Message)}"));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The YAML library throws more than YamlException on some malformed input (an unclosed flow sequence gives
            // InvalidOperationException). Whatever it is, the file is rejected and the caller keeps running.
            collector.Errors.Add(new ValidationError($"{source}:{line}", "", "", parsed
                ? $"cannot be loaded ({e.GetType().Name}: {StripMarks(e.Message)})"
                : $"YAML syntax error: the YAML is not well formed from about this line on (an unclosed [ or {{, or a value where a key belongs); the parser said: {StripMarks(e.Message)}"));
        }
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

        var valid = collector.Objects.Where(o => !o.Failed).ToList();
        return new ManifestSet(
            valid.Select(o => o.Resource).ToList(),
            collector.Errors,
            collector.Warnings,
            valid.ToDictionary<Loaded, Resource, Func<string, string>>(o => o.Resource, o => o.LocationOf, ReferenceEqualityComparer.Instance));
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

            CheckNodeAddresses(collector, loaded, group, nodes);

            // Without Node documents the nodes come from elsewhere (the cluster), so there is nothing to check against.
            if (nodes.Count > 0 && !nodes.Any(n => group.Spec.NodeSelector.Matches(n.Metadata.Labels)))
                collector.Warnings.Add(new ValidationError(loaded.LocationOf("spec.nodeSelector"), loaded.ObjectName, "spec.nodeSelector",
                    $"matches none of the {nodes.Count} Node objects, so no node carries its virtual IPs"));
        }
    }

    /// <summary>
    /// A VIP must not be a node's own address, whatever prefix it is written with: the speaker would bind, announce and
    /// finally remove the address that node lives on.
    /// </summary>
    private static void CheckNodeAddresses(Collector collector, Loaded loaded, VirtualIpGroup group, List<Node> nodes)
    {
        for (var i = 0; i < group.Spec.VirtualIPs.Count; i++)
        {
            if (!VirtualIp.TryParse(group.Spec.VirtualIPs[i] ?? "", out var vip, out _)) continue;
            foreach (var node in nodes)
            {
                var owned = node.Status.Addresses.FirstOrDefault(a => VirtualIp.TryParseAddress(a.Address, out var address) && address.Equals(vip.Address));
                if (owned is null) continue;
                var path = $"spec.virtualIPs[{i}]";
                Fail(collector, loaded, new ValidationError(loaded.LocationOf(path), loaded.ObjectName, path,
                    $"{FieldRules.Quote(group.Spec.VirtualIPs[i])} is the {owned.Type} address of Node {FieldRules.Quote(node.Metadata.Name)}: " +
                    "a virtual IP must be an address that no node has as its own"));
            }
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
