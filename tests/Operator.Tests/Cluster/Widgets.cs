using k8s;
using k8s.Models;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>A throw-away custom resource for the informer tests.</summary>
public sealed class WidgetSpec
{
    public int Size { get; set; }
}

public sealed class Widget : CustomResource<WidgetSpec, object>;

public static class TestCrds
{
    public const string WidgetGroup = "test.nginx-ha.io";
    public const string WidgetPath = "/apis/" + WidgetGroup + "/v1/widgets";

    public const string Widgets = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.test.nginx-ha.io
        spec:
          group: test.nginx-ha.io
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
                  status: {type: object, x-kubernetes-preserve-unknown-fields: true}
            subresources: {status: {}}
        """;

    public static Widget NewWidget(string name, int size) => new()
    {
        ApiVersion = WidgetGroup + "/v1",
        Kind = "Widget",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new WidgetSpec { Size = size },
    };

    public static Task CreateWidget(this IKubernetes client, string name, int size = 1) =>
        client.CustomObjects.CreateNamespacedCustomObjectAsync(NewWidget(name, size), WidgetGroup, "v1", "default", "widgets");

    public static Task DeleteWidget(this IKubernetes client, string name) =>
        client.CustomObjects.DeleteNamespacedCustomObjectAsync(WidgetGroup, "v1", "default", "widgets", name);

    public static Task PatchWidget(this IKubernetes client, string name, int size) =>
        client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch($$$"""{"spec":{"size":{{{size}}}}}""", V1Patch.PatchType.MergePatch),
            WidgetGroup, "v1", "default", "widgets", name);

    public static IListWatch<Widget> WidgetSource(IKubernetes client) => ApiListWatch.Custom<Widget>(client, WidgetGroup, "v1", "widgets");
}
