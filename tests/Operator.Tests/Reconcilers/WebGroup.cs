using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>The group edge/web with one VIP (ActivePassive) and its plan: instance edge/web/0, lb1 preferred, then lb2.</summary>
internal static class WebGroup
{
    public static readonly DateTimeOffset T0 = new(2026, 12, 2, 6, 0, 0, TimeSpan.Zero);

    public static VirtualIpGroupResource Resource(VirtualIpGroupStatus? status = null, List<string>? finalizers = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "edge", Generation = 1, Finalizers = finalizers },
        Spec = new VirtualIpGroupSpec { Mode = VirtualIpGroupMode.ActivePassive, VirtualIPs = ["198.18.0.201"] },
        Status = status,
    };

    public static GroupPlan Plan() => new("edge/web", [new PlannedInstance("edge/web/0", "edge/web", 51, ["198.18.0.201/32"], ["lb1", "lb2"])],
        [new Condition { Type = "Ready", Status = "True", Reason = "Planned" }, new Condition { Type = "Degraded", Status = "False", Reason = "Redundant" },
         new Condition { Type = "Conflict", Status = "False", Reason = "NoConflict" }]);

    /// <summary>An agent's status at <paramref name="observed"/>: <paramref name="state"/> of edge/web/0.</summary>
    public static NodeHaConfigStatus Reported(long observed, VrrpInstanceState state) => new()
    {
        ObservedGeneration = observed,
        Instances = [new VrrpInstanceStatus { Name = "edge/web/0", State = state, LastTransitionTime = T0 }],
    };
}
