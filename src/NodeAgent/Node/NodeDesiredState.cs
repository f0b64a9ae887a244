using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Node;

/// <summary>What this node must run: its VRRP instances, its rendered nginx.conf and the secret files that names.</summary>
public sealed record NodeDesiredState(NodeHaConfig Config, IReadOnlyList<InstancePlan> Instances, string NginxConfig)
{
    /// <summary>Files nginx.conf names that must be on disk before nginx -t (the TLS Secrets' certificates and keys, htpasswd files).</summary>
    public IReadOnlyList<SecretFile> SecretFiles { get; init; } = [];

    /// <summary>The directories of <see cref="SecretFiles"/>: what stays on disk once this state is applied.</summary>
    public IReadOnlyCollection<string> SecretDirectories { get; init; } = [];

    /// <summary>The NodeHaConfig generation this state comes from (<see cref="NodeConfigEvent.Generation"/>).</summary>
    public long? Generation { get; init; }

    /// <summary>The source's <see cref="NodeConfigUpdate.Applied"/>.</summary>
    public Action? Applied { get; init; }

    /// <summary>
    /// Pure: a NodeHaConfig with its resolved secrets, on a host with <paramref name="hostAddresses"/>, becomes speaker
    /// plans and nginx.conf; or every problem, each a complete line naming the instance or pool and the field.
    /// </summary>
    public static NodeDesiredState? From(NodeConfigUpdate update, IEnumerable<ConfiguredAddress> hostAddresses, NginxRuntimeOptions runtime,
        out IReadOnlyList<string> problems)
    {
        var errors = new List<string>();
        problems = errors;
        var config = update.Config;
        errors.AddRange(config.Validate().Select(e => $"NodeHaConfig {config.Metadata.Name}: {e.Path}: {e.Message}"));
        if (errors.Count > 0) return null;

        var addresses = hostAddresses.ToArray();
        var instances = new List<InstancePlan>();
        foreach (var instance in config.Spec.VrrpInstances)
        {
            var auth = update.Secrets.VrrpAuth.TryGetValue(instance.Name, out var data) ? data : ReadOnlyMemory<byte>.Empty;
            var planned = InstancePlan.From(instance, auth, addresses, out var problem);
            if (planned is null) errors.Add(problem!);
            else instances.Add(planned);
        }

        var (directories, files) = Node.SecretFiles.Plan(update.Secrets.Tls, update.Secrets.Htpasswd, runtime.SecretsDirectory);
        var input = new NginxRenderInput(config.Spec.BackendPools.Select(p => (p.Name, p.Spec)).ToArray(), runtime) { SecretDirectories = directories };
        errors.AddRange(NginxConfigRenderer.Validate(input).Select(e => e.ToString()));
        if (errors.Count > 0) return null;
        return new NodeDesiredState(config, instances, NginxConfigRenderer.Render(input))
        {
            SecretFiles = files,
            SecretDirectories = directories.Values.ToArray(),
            Generation = update.Generation,
            Applied = update.Applied,
        };
    }
}
