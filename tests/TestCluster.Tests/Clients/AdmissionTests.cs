using NginxHa.TestCluster.Tests.Support;

namespace NginxHa.TestCluster.Tests.Clients;

/// <summary>
/// What the real server adds for admission (docs/test-cluster.md, "Admission"): test service account tokens and the
/// upstream ValidatingAdmissionPolicy plugin, here on Leases (a built-in kind the real server serves as a CRD) with a
/// policy that matches one service account only, so the other tests sharing the cluster never meet it.
/// </summary>
[Collection("test cluster")]
public sealed class AdmissionTests(ClusterFixture cluster)
{
    readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void Test_service_account_token_authenticates_and_a_malformed_one_is_refused()
    {
        var good = cluster.KubectlWithToken($"nha-test-sa:adm-{_run}:reader", "get", "leases", "-A");
        var bad = cluster.KubectlWithToken("nha-test-sa:only-a-namespace", "get", "leases", "-A");

        Assert.True(good.Code == 0, good.Error);
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("Unauthorized", bad.Error);
    }

    [Fact]
    public async Task Validating_admission_policy_is_evaluated_with_the_objects_and_the_tokens_node_claim()
    {
        var user = $"adm-{_run}:lease-writer";
        var policy = Path.Combine(cluster.Directory, $"policy-{_run}.yaml");
        await File.WriteAllTextAsync(policy, $$"""
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicy
            metadata:
              name: lease-holder-is-node-{{_run}}
            spec:
              matchConstraints:
                resourceRules:
                  - apiGroups: [coordination.k8s.io]
                    apiVersions: [v1]
                    operations: [CREATE]
                    resources: [leases]
              matchConditions:
                - name: one-account
                  expression: "request.userInfo.username == 'system:serviceaccount:adm-{{_run}}:lease-writer'"
              validations:
                - expression: >-
                    has(request.userInfo.extra) && 'authentication.kubernetes.io/node-name' in request.userInfo.extra &&
                    object.spec.holderIdentity == request.userInfo.extra['authentication.kubernetes.io/node-name'][0]
                  messageExpression: "'holder ' + object.spec.holderIdentity + ' is not the token node'"
                  reason: Forbidden
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicyBinding
            metadata:
              name: lease-holder-is-node-{{_run}}
            spec:
              policyName: lease-holder-is-node-{{_run}}
              validationActions: [Deny]
            """);
        string Lease(string name, string holder)
        {
            var path = Path.Combine(cluster.Directory, $"lease-{name}-{_run}.yaml");
            File.WriteAllText(path, $$"""
                apiVersion: coordination.k8s.io/v1
                kind: Lease
                metadata: {name: {{name}}-{{_run}}, namespace: default}
                spec: {holderIdentity: {{holder}}}
                """);
            return path;
        }
        var applied = cluster.Kubectl("apply", "--server-side", "-f", policy);
        Assert.True(applied.Code == 0, applied.Error);

        // The plugin sees the policy through its informers: wait until a write it must deny is denied (a dry run).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var wrongHolder = Lease("wrong", "node-b");
        (int Code, string Output, string Error) denied;
        while ((denied = cluster.KubectlWithToken($"nha-test-sa:{user}:node-a", "create", "--dry-run=server", "-f", wrongHolder)).Code == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the policy did not deny within 30 s");
            await Task.Delay(100);
        }
        var allowed = cluster.KubectlWithToken($"nha-test-sa:{user}:node-a", "create", "-f", Lease("right", "node-a"));
        var noClaim = cluster.KubectlWithToken($"nha-test-sa:{user}", "create", "-f", Lease("noclaim", "node-a"));
        var otherAccount = cluster.KubectlWithToken($"nha-test-sa:adm-{_run}:someone-else:node-a", "create", "-f", Lease("other", "node-b"));

        Assert.Contains("(Forbidden)", denied.Error);
        Assert.Contains($"lease-holder-is-node-{_run}", denied.Error);
        Assert.Contains("holder node-b is not the token node", denied.Error);
        Assert.True(allowed.Code == 0, allowed.Error);
        Assert.NotEqual(0, noClaim.Code);
        Assert.Contains("holder node-a is not the token node", noClaim.Error);
        Assert.True(otherAccount.Code == 0, otherAccount.Error); // the match condition leaves other accounts alone
        var leases = cluster.Kubectl("get", "leases", "-n", "default", "-o", "name").Output;
        Assert.Contains($"right-{_run}", leases);
        Assert.DoesNotContain($"wrong-{_run}", leases);
        Assert.DoesNotContain($"noclaim-{_run}", leases);
    }
}
