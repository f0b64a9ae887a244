using NginxHa.Integration.Tests.Kubernetes;
using NginxHa.Integration.Tests.Support;
using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The operator image run as the chart's Deployment says (issue 11 §2): one replica of the pod <c>helm template</c>
/// renders, started by podman in place of a kubelet with exactly its security context (user 65532, read-only root, drop
/// ALL, no-new-privileges, RuntimeDefault seccomp, the limits), its args and env, in a network namespace of the test's
/// own (its pod network: loopback and one veth on a private bridge, no route out), with in-cluster credentials relayed
/// to the test cluster by <see cref="ServiceAccountApi"/>.
/// </summary>
[Collection(ChartPodCollection.Name)]
public sealed class OperatorPodTests(CrdCluster cluster, ContainerImages images)
{
    readonly KubeCluster _k = cluster.Server;

    [Fact]
    public async Task ChartOperatorPod_WithTheChartsSecurityContext_IsReady_TakesTheLeaderLease_AndWritesTheNodeHaConfig()
    {
        var spec = ChartRender.DeploymentPod(ChartRender.OperatorImageTag(images.OperatorTag));
        var security = spec.Container("operator").Security;
        Assert.Equal((65532L, 65532L, true, true, false), (security.RunAsUser!.Value, security.RunAsGroup!.Value, security.RunAsNonRoot!.Value,
            security.ReadOnlyRootFilesystem, security.AllowPrivilegeEscalation!.Value));

        using var network = NetworkLab.Create($"op{Environment.ProcessId % 100:00}", 1);
        var node = network.Nodes[0];
        using var api = new ServiceAccountApi(node, _k.Url.Port);
        _k.Ok("apply", "-f", _k.WriteManifest("op-namespaces.yaml", OperatorPodSite.Namespaces));
        using var pod = new PodmanPod(spec, node, "worker1", api.Mount, "op", podNetwork: true);
        string Diagnosis() => pod.Describe();
        try
        {
            pod.Start();
            Assert.Equal("running 0", pod.State("operator"));
            // The kubelet's readiness probe: the chart's path and named port, on the pod's IP.
            var readiness = pod.Plan.Container("operator").Readiness!;
            Assert.Equal(new Uri($"http://{node.IPv4}:8080/readyz"), readiness);
            await Eventually.Until(() => ChartPodLab.HttpStatus(node, readiness), s => s.StartsWith("HTTP/1.1 200", StringComparison.Ordinal),
                TimeSpan.FromSeconds(90), $"operator readiness {readiness}\n{Diagnosis()}");
            // In-cluster config as a kubelet gives it: TLS to the API with the service account's CA and its token.
            Assert.Contains($"Bearer {api.Token}", api.Authorizations);

            // --identity $(POD_NAME): the pod's name holds the chart's leader Lease.
            await Eventually.Until(() => _k.Run("get", "lease", "-n", "nginx-ha", "nginx-ha-operator", "-o", "jsonpath={.spec.holderIdentity}").Output.Trim(),
                h => h == pod.Plan.PodName, TimeSpan.FromSeconds(60), $"the leader Lease held by {pod.Plan.PodName}\n{Diagnosis()}");

            _k.Ok("apply", "-f", _k.WriteManifest("op-site.yaml", Site));
            await Eventually.Until(
                () => _k.Run("get", "nhc", "oplb1", "-o", "jsonpath={.spec.vrrpInstances[0].name} {.spec.vrrpInstances[0].virtualIPs[0]}").Output.Trim(),
                s => s == "edge/opweb/0 198.18.0.200/24", TimeSpan.FromSeconds(60), $"oplb1's NodeHaConfig written by the operator pod\n{Diagnosis()}");

            var logs = pod.Logs("operator");
            Assert.DoesNotContain("Unhandled exception", logs);
            Assert.DoesNotContain(logs.Split('\n'), l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        }
        finally
        {
            // While the operator still runs, so it removes its finalizers; then whatever it left.
            _k.Run("delete", "-f", _k.WriteManifest("op-site.yaml", Site), "--ignore-not-found", "--timeout=30s");
            _k.Run("delete", "nhc", "oplb1", "--ignore-not-found", "--timeout=30s");
            _k.Run("delete", "lease", "-n", "nginx-ha", "nginx-ha-operator", "--ignore-not-found");
        }
    }

    static readonly string Site = OperatorPodSite.Manifest("op", "198.18.0.200/24", vrid: 72);
}
