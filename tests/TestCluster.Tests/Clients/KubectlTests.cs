using System.Text.Json.Nodes;
using NginxHa.TestCluster.Tests.Support;

namespace NginxHa.TestCluster.Tests.Clients;

/// <summary>kubectl against the cluster's one URL: merged discovery, and typed commands that write protobuf.</summary>
[Collection("test cluster")]
public sealed class KubectlTests(ClusterFixture cluster)
{
    readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void Api_resources_lists_the_stand_in_kinds_and_the_builtin_groups_served_as_CRDs()
    {
        var (code, output, error) = cluster.Kubectl("api-resources", "-o", "name");

        Assert.True(code == 0, error);
        var names = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        foreach (var expected in new[]
                 {
                     "namespaces", "nodes", "secrets", "configmaps", "services", "serviceaccounts",
                     "daemonsets.apps", "deployments.apps", "jobs.batch", "leases.coordination.k8s.io", "endpointslices.discovery.k8s.io",
                     "events.events.k8s.io", "roles.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io",
                     "rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io",
                     "prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com",
                     "customresourcedefinitions.apiextensions.k8s.io",
                 })
            Assert.Contains(expected, names);
    }

    [Fact]
    public void Kubectl_create_secret_sends_protobuf_and_the_secret_is_stored_as_sent()
    {
        var name = $"typed-{_run}";

        var create = cluster.Kubectl("create", "secret", "generic", name, "--from-literal=password=s3cret", "--type=nginx-ha.io/auth");
        var get = cluster.Kubectl("get", "secret", name, "-o", "json");

        Assert.True(create.Code == 0, create.Error);
        Assert.True(get.Code == 0, get.Error);
        var secret = JsonNode.Parse(get.Output)!;
        Assert.Equal("czNjcmV0", secret["data"]!["password"]!.GetValue<string>());
        Assert.Equal("nginx-ha.io/auth", secret["type"]!.GetValue<string>());
        Assert.Null(secret["metadata"]!["generateName"]); // protobuf's empty strings are not fields
    }

    [Fact]
    public void Kubectl_create_namespace_and_configmap_are_stored()
    {
        var ns = $"ns-{_run}";

        var createNs = cluster.Kubectl("create", "namespace", ns);
        var createCm = cluster.Kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=mode=ActiveActive");
        var get = cluster.Kubectl("get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.mode}");

        Assert.True(createNs.Code == 0, createNs.Error);
        Assert.True(createCm.Code == 0, createCm.Error);
        Assert.Equal("ActiveActive", get.Output.Trim());
    }
}
