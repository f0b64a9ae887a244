using NginxHa.Core.Manifests;
using NginxHa.Core.Nginx;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Standalone;

/// <summary>What this node must run: its VRRP instances and its rendered nginx.conf.</summary>
/// <see cref="Allocations"/>: the VRIDs of every instance of the plan, to remember for the next one.
public sealed record NodeDesiredState(NodeHaConfig Config, IReadOnlyList<InstancePlan> Instances, string NginxConfig,
    IReadOnlyList<VrrpAllocation>? Allocations = null);

/// <summary>
/// Standalone mode's config source: manifest files -> the same Planner the operator runs -> this node's
/// NodeHaConfig -> speaker plans and nginx.conf. Pure apart from reading the files and the host's addresses.
/// </summary>
public static class NodeConfigSource
{
    /// <summary>
    /// Every problem found, or the desired state. Problems and warnings are complete lines for the log.
    /// <paramref name="remembered"/>: the VRIDs of the last plan (<see cref="VridMemory"/>); <paramref name="heard"/>:
    /// the virtual routers heard on the wire (<see cref="Vrrp.HeardRouters"/>).
    /// </summary>
    public static NodeDesiredState? Load(IReadOnlyList<string> files, string node, NginxRuntimeOptions runtime,
        IEnumerable<ConfiguredAddress> hostAddresses, out IReadOnlyList<string> problems, out IReadOnlyList<string> warnings,
        IReadOnlyList<VrrpAllocation>? remembered = null, IReadOnlyList<HeardVirtualRouter>? heard = null)
    {
        var errors = new List<string>();
        problems = errors;
        var set = ManifestLoader.LoadFiles(files);
        var notes = set.Warnings.Select(w => w.ToString()).ToList();
        warnings = notes;
        errors.AddRange(set.Errors.Select(e => e.ToString()));
        if (!set.IsValid) return null;
        if (!set.Nodes.Any(n => n.Metadata.Name == node))
        {
            errors.Add($"--node: \"{node}\" is not one of the Node documents ({string.Join(", ", set.Nodes.Select(n => n.Metadata.Name))})");
            return null;
        }

        var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes,
            remembered is null ? null : VrrpAllocation.VirtualRouterIdsOnly(remembered), heard));
        errors.AddRange(plan.Errors.Select(e => e.ToString()));
        notes.AddRange(plan.Warnings.Select(w => w.ToString()));
        if (errors.Count > 0) return null;
        var config = plan.ConfigFor(node);

        var addresses = hostAddresses.ToArray();
        var instances = new List<InstancePlan>();
        foreach (var instance in config.Spec.VrrpInstances)
        {
            var planned = InstancePlan.From(instance, addresses, out var problem);
            if (planned is null) errors.Add(problem!);
            else instances.Add(planned);
        }
        errors.AddRange(SecretFilePreflight.Check(config, set));

        var input = new NginxRenderInput(config.Spec.BackendPools.Select(p => (p.Name, p.Spec)).ToArray(), runtime);
        var renderErrors = NginxConfigRenderer.Validate(input);
        errors.AddRange(renderErrors.Select(e => e.ToString()));
        if (errors.Count > 0) return null;
        return new NodeDesiredState(config, instances, NginxConfigRenderer.Render(input), plan.Allocations);
    }
}
