using k8s.Models;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

public class OperatorControllerTests
{
    private static V1ObjectMeta Meta(long generation = 1, List<string>? finalizers = null, DateTime? deleted = null) =>
        new() { Name = "web", NamespaceProperty = "edge", Generation = generation, Finalizers = finalizers, DeletionTimestamp = deleted };

    [Fact]
    public void Our_finalizer_added_to_a_live_group_does_not_replan()
    {
        Assert.False(OperatorController.PlanInputChanged(Meta(), Meta(finalizers: ["nginx-ha.io/vips"])));
    }

    [Fact]
    public void A_spec_change_a_deletion_or_a_finalizer_leaving_a_deleted_group_replans()
    {
        var deleted = new DateTime(2026, 12, 2, 12, 0, 0, DateTimeKind.Utc);
        Assert.True(OperatorController.PlanInputChanged(Meta(), Meta(generation: 2)));
        Assert.True(OperatorController.PlanInputChanged(Meta(finalizers: ["nginx-ha.io/vips"]), Meta(finalizers: ["nginx-ha.io/vips"], deleted: deleted)));
        Assert.True(OperatorController.PlanInputChanged(Meta(finalizers: ["nginx-ha.io/vips"], deleted: deleted), Meta(finalizers: [], deleted: deleted)));
    }
}
