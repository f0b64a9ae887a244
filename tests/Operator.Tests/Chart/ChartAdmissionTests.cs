using NginxHa.Operator.Tests.Cluster;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>
/// The chart's ValidatingAdmissionPolicy (helm template, release nha in nginx-ha) evaluated for real: the test
/// cluster's CRD API server runs the upstream ValidatingAdmissionPolicy admission plugin, and test service account
/// tokens give the agent's user the node claim a pod-bound token carries (docs/test-cluster.md).
/// </summary>
public sealed class ChartAdmissionTests(ChartAdmissionTests.PolicyCluster fixture) : IClassFixture<ChartAdmissionTests.PolicyCluster>
{
    private const string Namespace = "nginx-ha";
    private const string Agent = "nha-nginx-ha-operator-agent";
    private const string Operator = "nha-nginx-ha-operator-operator";
    private const string Denial = "the nginx-ha agent may write only the status of its own node's NodeHaConfig and its own heartbeat Lease nginx-ha-agent-NODE held by NODE; ";

    private ApiServer Cluster => fixture.Cluster;

    [Fact]
    public async Task Agent_writes_the_status_of_its_own_node()
    {
        var lb1 = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, "lb1");
        var (code, output) = await Cluster.KubectlAsAsync(lb1, "patch", "nodehaconfig", "lb1", "--subresource=status", "--type=merge",
            "-p", """{"status":{"observedGeneration":7}}""");
        Assert.True(code == 0, output);
        Assert.Equal("7", await Cluster.KubectlOutputAsync("get", "nodehaconfig", "lb1", "-o", "jsonpath={.status.observedGeneration}"));
    }

    [Fact]
    public async Task Agent_writing_another_nodes_status_is_denied_with_the_policys_message()
    {
        var lb1 = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, "lb1");
        var (code, output) = await Cluster.KubectlAsAsync(lb1, "patch", "nodehaconfig", "lb2", "--subresource=status", "--type=merge",
            "-p", """{"status":{"observedGeneration":9}}""");
        Assert.NotEqual(0, code);
        Assert.Contains("Error from server (Forbidden)", output);
        Assert.Contains(Denial + "token node lb1, request UPDATE nodehaconfigs lb2/status", output);
        Assert.Equal("", await Cluster.KubectlOutputAsync("get", "nodehaconfig", "lb2", "-o", "jsonpath={.status.observedGeneration}"));
    }

    [Theory]
    [InlineData("patch")]
    [InlineData("delete")]
    [InlineData("create")]
    public async Task Agent_writing_anything_but_a_status_is_denied_even_for_its_own_node(string verb)
    {
        var lb1 = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, "lb1");
        var name = verb == "create" ? "lb1-extra" : "lb1";
        string[] args = verb switch
        {
            "patch" => ["patch", "nodehaconfig", "lb1", "--type=merge", "-p", """{"metadata":{"labels":{"edited-by":"agent"}}}"""],
            "delete" => ["delete", "nodehaconfig", "lb1", "--wait=false"],
            _ => ["create", "-f", await fixture.NodeHaConfigFileAsync(name)],
        };
        var agent = verb == "create" ? await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, name) : lb1;
        var (code, output) = await Cluster.KubectlAsAsync(agent, args);
        Assert.NotEqual(0, code);
        var operation = verb switch { "patch" => "UPDATE", "delete" => "DELETE", _ => "CREATE" };
        Assert.Contains(Denial + $"token node {name}, request {operation} nodehaconfigs {name}", output);
        Assert.DoesNotContain($"nodehaconfigs {name}/", output);
        // Nothing changed: lb1 is there without the label, no lb1-extra was made.
        Assert.Equal("", await Cluster.KubectlOutputAsync("get", "nodehaconfig", "lb1", "-o", "jsonpath={.metadata.labels.edited-by}"));
        Assert.DoesNotContain("lb1-extra", await Cluster.KubectlOutputAsync("get", "nodehaconfigs", "-o", "name"));
    }

    [Fact]
    public async Task Agent_token_without_a_node_claim_is_denied()
    {
        var noNode = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, node: null);
        var (code, output) = await Cluster.KubectlAsAsync(noNode, "patch", "nodehaconfig", "lb1", "--subresource=status", "--type=merge",
            "-p", """{"status":{"observedGeneration":11}}""");
        Assert.NotEqual(0, code);
        Assert.Contains(Denial + "its token carries no node name (Kubernetes 1.30+ needed), request UPDATE nodehaconfigs lb1/status", output);
    }

    [Fact]
    public async Task Agent_creates_and_renews_its_own_heartbeat_lease_held_by_its_node()
    {
        var lb1 = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, "lb1");
        var (code, output) = await Cluster.KubectlAsAsync(lb1, "apply", "--server-side", "-f", await fixture.LeaseFileAsync("nginx-ha-agent-lb1", "lb1"));
        Assert.True(code == 0, output);
        (code, output) = await Cluster.KubectlAsAsync(lb1, "patch", "lease", "-n", Namespace, "nginx-ha-agent-lb1", "--type=merge",
            "-p", """{"spec":{"leaseDurationSeconds":21}}""");
        Assert.True(code == 0, output);
        Assert.Equal("21", await Cluster.KubectlOutputAsync("get", "lease", "-n", Namespace, "nginx-ha-agent-lb1", "-o", "jsonpath={.spec.leaseDurationSeconds}"));
    }

    [Theory]
    [InlineData("nginx-ha-agent-lb2", "lb2", "CREATE")] // another node's Lease
    [InlineData("nginx-ha-agent-lb2", "lb1", "CREATE")] // another node's Lease, held in its own name
    [InlineData("nginx-ha-agent-lb1", "lb2", "CREATE")] // its own Lease held by another node
    [InlineData("other-lease", "lb1", "CREATE")]        // any other Lease
    public async Task Agent_writing_a_lease_other_than_its_own_held_by_its_node_is_denied(string lease, string holder, string operation)
    {
        var lb1 = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, "lb1");
        var (code, output) = await Cluster.KubectlAsAsync(lb1, "create", "-f", await fixture.LeaseFileAsync(lease, holder));
        Assert.NotEqual(0, code);
        Assert.Contains(Denial + $"token node lb1, request {operation} leases {lease}", output);
        Assert.DoesNotContain(lease, await Cluster.KubectlOutputAsync("get", "leases", "-n", Namespace, "-o", "name"));
    }

    [Fact]
    public async Task Agent_deleting_its_own_heartbeat_lease_is_denied()
    {
        await Cluster.KubectlAsync("apply", "--server-side", "-f", await fixture.LeaseFileAsync("nginx-ha-agent-lb2", "lb2")); // as the admin
        var lb2 = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, "lb2");
        var (code, output) = await Cluster.KubectlAsAsync(lb2, "delete", "lease", "-n", Namespace, "nginx-ha-agent-lb2", "--wait=false");
        Assert.NotEqual(0, code);
        Assert.Contains(Denial + "token node lb2, request DELETE leases nginx-ha-agent-lb2", output);
        Assert.Contains("nginx-ha-agent-lb2", await Cluster.KubectlOutputAsync("get", "leases", "-n", Namespace, "-o", "name"));
    }

    [Fact]
    public async Task Operator_service_account_is_not_matched_by_the_policy()
    {
        var op = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Operator, node: null);
        var (code, output) = await Cluster.KubectlAsAsync(op, "patch", "nodehaconfig", "lb2", "--type=merge",
            "-p", """{"metadata":{"labels":{"edited-by":"operator"}}}""");
        Assert.True(code == 0, output);
        Assert.Equal("operator", await Cluster.KubectlOutputAsync("get", "nodehaconfig", "lb2", "-o", "jsonpath={.metadata.labels.edited-by}"));
    }

    /// <summary>
    /// One cluster for the class: the CRDs, NodeHaConfigs lb1 and lb2 (written as the admin, whom the policy does not
    /// match), and the chart's policy and binding, in effect once the plugin's informers have seen them.
    /// </summary>
    public sealed class PolicyCluster : IAsyncLifetime
    {
        private readonly string _files = Directory.CreateTempSubdirectory("nha-admission-").FullName;

        public ApiServer Cluster { get; } = new();

        public async Task InitializeAsync()
        {
            await Cluster.InitializeAsync();
            await Cluster.KubectlAsync("apply", "--server-side", "-f", ApiServer.RepositoryPath("crds"));
            await Cluster.KubectlAsync("create", "namespace", Namespace); // the heartbeat Leases live in the release's namespace
            await Cluster.ApplyCrdsAsync("", "/apis/nginx-ha.io/v1alpha1/nodehaconfigs");
            foreach (var node in new[] { "lb1", "lb2" })
                await Cluster.KubectlAsync("create", "-f", await NodeHaConfigFileAsync(node));

            var policy = await Helm.TemplateAsync("--show-only", "templates/admission-policy.yaml");
            var file = await WriteAsync("policy.yaml", policy);
            await Cluster.KubectlAsync("apply", "--server-side", "-f", file);

            // The plugin learns of the policy and its binding through its informers: wait until it answers for the
            // policy (server-side dry runs go through admission and change nothing). Any of three writes it must deny
            // will do, so that a broken expression fails the test of its case, not this wait.
            var lb1 = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, "lb1");
            var noNode = await Cluster.ServiceAccountKubeconfigAsync(Namespace, Agent, node: null);
            (string Kubeconfig, string[] Args)[] probes =
            [
                (lb1, ["patch", "nodehaconfig", "lb1", "--type=merge", "-p", """{"metadata":{"labels":{"probe":"x"}}}"""]),
                (lb1, ["patch", "nodehaconfig", "lb2", "--subresource=status", "--type=merge", "-p", """{"status":{"observedGeneration":1}}"""]),
                (noNode, ["patch", "nodehaconfig", "lb1", "--subresource=status", "--type=merge", "-p", """{"status":{"observedGeneration":1}}"""]),
            ];
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                var answers = "";
                foreach (var (kubeconfig, args) in probes)
                {
                    var (_, output) = await Cluster.KubectlAsAsync(kubeconfig, [.. args, "--dry-run=server"]);
                    if (output.Contains($"ValidatingAdmissionPolicy '{Agent}-own-node'", StringComparison.Ordinal)) return;
                    answers += output;
                }
                Assert.True(DateTime.UtcNow < deadline, $"the policy did not answer within 30 s; last answers: {answers}");
                await Task.Delay(100);
            }
        }

        public async Task DisposeAsync()
        {
            try { await Cluster.DisposeAsync(); }
            finally { Directory.Delete(_files, recursive: true); }
        }

        public Task<string> LeaseFileAsync(string name, string holder) => WriteAsync($"lease-{name}-{holder}.yaml", $"""
            apiVersion: coordination.k8s.io/v1
            kind: Lease
            metadata:
              name: {name}
              namespace: {Namespace}
            spec:
              holderIdentity: {holder}
              leaseDurationSeconds: 20

            """);

        public Task<string> NodeHaConfigFileAsync(string node) => WriteAsync($"nhc-{node}.yaml", $"""
            apiVersion: nginx-ha.io/v1alpha1
            kind: NodeHaConfig
            metadata:
              name: {node}
            spec:
              nodeName: {node}

            """);

        private async Task<string> WriteAsync(string name, string text)
        {
            var path = Path.Combine(_files, name);
            await File.WriteAllTextAsync(path, text);
            return path;
        }
    }
}
