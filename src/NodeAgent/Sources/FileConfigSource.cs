using System.Runtime.CompilerServices;
using System.Threading.Channels;
using NginxHa.Core.Manifests;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Core.Text;
using NginxHa.NodeAgent.Standalone;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Sources;

/// <summary>
/// Standalone mode's config source: manifest files -> the same Planner the operator runs -> this node's NodeHaConfig,
/// with its password files read. Yields the files' state at start, then again whenever they change (or on
/// <see cref="RequestReload"/>, e.g. SIGHUP).
/// </summary>
/// <paramref name="stateDirectory"/>: where the VRIDs of the last plan are remembered (<see cref="VridMemory"/>);
/// <paramref name="heard"/>: the virtual routers heard on the wire (docs/vrid-allocation.md).
public sealed class FileConfigSource(IReadOnlyList<string> files, string node, TimeProvider time, Action<string> log,
    string? stateDirectory = null, HeardRouters? heard = null) : INodeConfigSource
{
    /// <summary>Editors write files in several steps: changes are taken together once they settle this long.</summary>
    public static readonly TimeSpan ReloadSettle = TimeSpan.FromMilliseconds(200);

    readonly Channel<string> _reloads = Channel.CreateUnbounded<string>();

    /// <summary>Reads the files again soon (SIGHUP, or a file watcher).</summary>
    public void RequestReload(string why) => _reloads.Writer.TryWrite(why);

    public async IAsyncEnumerable<NodeConfigEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var watcher = WatchFiles();
        yield return await LoadAsync("start", cancellationToken);
        while (true)
        {
            string why = await _reloads.Reader.ReadAsync(cancellationToken);
            await Task.Delay(ReloadSettle, time, cancellationToken);
            while (_reloads.Reader.TryRead(out _)) { }
            yield return await LoadAsync(why, cancellationToken);
        }
    }

    /// <summary>
    /// <see cref="Load"/> off the caller's thread: a stop request ends the wait at once, whatever the loader is doing
    /// (a pathological file must never hold up the hand-over).
    /// </summary>
    public Task<NodeConfigEvent> LoadAsync(string reason, CancellationToken cancellationToken) =>
        Task.Run(() => Load(reason), CancellationToken.None).WaitAsync(cancellationToken);

    /// <summary>
    /// The files' current state for this node: pure apart from reading them (and the password files). Never throws:
    /// any exception out of reading, parsing, binding, validating or planning is one more problem.
    /// </summary>
    public NodeConfigEvent Load(string reason)
    {
        try
        {
            return LoadUnguarded(reason);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A defect in our own code must not cost the node its VIPs: report it as what could not be loaded.
            return new NodeConfigRejected(
                [$"{string.Join(", ", files)}: the config could not be loaded ({ex.GetType().Name}: {SafeText.Escape(ex.Message)})"], reason);
        }
    }

    NodeConfigEvent LoadUnguarded(string reason)
    {
        var set = ManifestLoader.LoadFiles(files);
        foreach (var w in set.Warnings) log($"warning: {w}");
        var errors = set.Errors.Select(e => e.ToString()).ToList();
        if (!set.IsValid) return new NodeConfigRejected(errors, reason);
        if (!set.Nodes.Any(n => n.Metadata.Name == node))
        {
            errors.Add($"--node: \"{node}\" is not one of the Node documents ({string.Join(", ", set.Nodes.Select(n => n.Metadata.Name))})");
            return new NodeConfigRejected(errors, reason);
        }

        var remembered = stateDirectory is null ? null : VrrpAllocation.VirtualRouterIdsOnly(VridMemory.Load(stateDirectory));
        var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes, remembered, heard?.Snapshot()));
        foreach (var w in plan.Warnings) log($"warning: {w}");
        errors.AddRange(plan.Errors.Select(e => e.ToString()));
        if (errors.Count > 0) return new NodeConfigRejected(errors, reason);
        var config = plan.ConfigFor(node);

        // Every password file is read now, its problems located at the field that names it (file:line).
        errors.AddRange(SecretFilePreflight.Check(config, set));
        errors.AddRange(config.Spec.VrrpInstances.Where(i => i.AuthSecretRef is not null)
            .Select(i => $"{i.Name}: authSecretRef: Secrets need Kubernetes; in standalone mode give spec.vrrp.authPasswordFile"));
        if (errors.Count > 0) return new NodeConfigRejected(errors, reason);
        var auth = new Dictionary<string, ReadOnlyMemory<byte>>();
        foreach (var instance in config.Spec.VrrpInstances)
            if (instance.AuthPasswordFile is { } path) auth[instance.Name] = VrrpPasswordFile.Read(path);
        if (stateDirectory is not null && Directory.Exists(stateDirectory) && VridMemory.Save(stateDirectory, plan.Allocations) is { } problem)
            log($"warning: {problem}");
        return new NodeConfigUpdate(config, new NodeSecrets(auth), reason);
    }

    IDisposable WatchFiles()
    {
        var watchers = new List<FileSystemWatcher>();
        foreach (var group in files.GroupBy(f => Path.GetDirectoryName(f)!))
        {
            var names = group.Select(Path.GetFileName).ToHashSet();
            var watcher = new FileSystemWatcher(group.Key) { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size };
            void OnChange(object? _, FileSystemEventArgs e)
            {
                if (names.Contains(e.Name)) RequestReload($"{e.Name} changed");
            }
            watcher.Changed += OnChange;
            watcher.Created += OnChange;
            watcher.Renamed += (s, e) => OnChange(s, e);
            watcher.EnableRaisingEvents = true;
            watchers.Add(watcher);
        }
        return new Disposables(watchers);
    }

    sealed class Disposables(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var i in items) i.Dispose();
        }
    }
}
