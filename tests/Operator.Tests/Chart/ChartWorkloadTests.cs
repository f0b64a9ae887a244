using YamlDotNet.RepresentationModel;
using static NginxHa.Operator.Tests.Chart.PrivilegeCheck;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>What the rendered operator Deployment, agent DaemonSet, RBAC and toggles carry (issue 11, section 1).</summary>
public sealed class ChartWorkloadTests
{
    private static async Task<List<YamlMappingNode>> Render(params string[] args) => Helm.Documents(await Helm.TemplateAsync(args));

    private static YamlMappingNode Kind(List<YamlMappingNode> docs, string kind, string? nameEnds = null) =>
        docs.Single(d => Scalar(d, "kind") == kind && (nameEnds is null || Scalar(d, "metadata", "name")!.EndsWith(nameEnds, StringComparison.Ordinal)));

    private static List<string> Args(YamlMappingNode container) =>
        Seq(container, "args")!.OfType<YamlScalarNode>().Select(s => s.Value!).ToList();

    [Fact]
    public async Task Operator_runs_two_leader_elected_replicas_with_resources()
    {
        var deployment = Kind(await Render(), "Deployment");
        Assert.Equal("2", Scalar(deployment, "spec", "replicas"));
        var op = ChartPrivilegeTests.Container(deployment, "operator");
        var args = Args(op);
        Assert.Equal("run", args[0]);
        Assert.Equal("nginx-ha-operator", args[args.IndexOf("--lease-name") + 1]);
        Assert.Equal("nginx-ha", args[args.IndexOf("--lease-namespace") + 1]);
        Assert.Equal("$(POD_NAME)", args[args.IndexOf("--identity") + 1]);
        Assert.Equal("60s", args[args.IndexOf("--release-timeout") + 1]);
        Assert.Equal("10s", args[args.IndexOf("--apply-grace") + 1]);
        Assert.DoesNotContain("--no-leader-election", args);
        Assert.NotNull(Scalar(op, "resources", "limits", "memory"));
        Assert.NotNull(Scalar(op, "resources", "requests", "cpu"));
        Assert.Equal("RuntimeDefault", Scalar(deployment, "spec", "template", "spec", "securityContext", "seccompProfile", "type"));

        var single = ChartPrivilegeTests.Container(Kind(await Render("--set", "operator.leaderElection.enabled=false"), "Deployment"), "operator");
        Assert.Contains("--no-leader-election", Args(single));
        // Without leader election the operator still watches the agents' heartbeat Leases in the release namespace.
        Assert.Equal("nginx-ha", Args(single)[Args(single).IndexOf("--lease-namespace") + 1]);
    }

    [Theory]
    [InlineData(null, "8080")]
    [InlineData("9090", "9090")]
    public async Task Operator_serves_metrics_on_the_named_port_and_its_probes_ask_healthz_and_readyz_there(string? port, string expected)
    {
        var op = ChartPrivilegeTests.Container(Kind(await Render(port is null ? [] : ["--set", $"operator.metricsPort={port}"]), "Deployment"), "operator");
        var args = Args(op);
        Assert.Equal($"0.0.0.0:{expected}", args[args.IndexOf("--metrics-address") + 1]);
        AssertProbesOnNamedPort(op, expected);
    }

    [Fact]
    public async Task Agent_probes_ask_healthz_and_readyz_on_its_metrics_port()
    {
        var agent = ChartPrivilegeTests.Container(Kind(await Render("--set", "agent.metricsPort=9500"), "DaemonSet"), "agent");
        var args = Args(agent);
        Assert.Equal("$(NODE_IP):9500", args[args.IndexOf("--metrics-address") + 1]);
        AssertProbesOnNamedPort(agent, "9500");
    }

    /// <summary>What a kubelet does with the probes: the port name resolves to the container port the server binds.</summary>
    private static void AssertProbesOnNamedPort(YamlMappingNode container, string port)
    {
        var metrics = Seq(container, "ports")!.OfType<YamlMappingNode>().Single(p => Scalar(p, "name") == "metrics");
        Assert.Equal(port, Scalar(metrics, "containerPort"));
        Assert.Equal("/healthz", Scalar(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal("metrics", Scalar(container, "livenessProbe", "httpGet", "port"));
        Assert.Equal("/readyz", Scalar(container, "readinessProbe", "httpGet", "path"));
        Assert.Equal("metrics", Scalar(container, "readinessProbe", "httpGet", "port"));
    }

    [Fact]
    public async Task Agent_daemonset_has_host_network_sidecar_nginx_and_one_node_at_a_time_updates()
    {
        var ds = Kind(await Render("--set", "agent.tolerations[0].key=edge", "--set", "agent.tolerations[0].operator=Exists"), "DaemonSet");
        var pod = Map(ds, "spec", "template", "spec")!;
        Assert.Equal("true", Scalar(pod, "hostNetwork"));
        Assert.Equal("ClusterFirstWithHostNet", Scalar(pod, "dnsPolicy"));
        Assert.Equal("true", Scalar(pod, "shareProcessNamespace"));
        Assert.Equal("RollingUpdate", Scalar(ds, "spec", "updateStrategy", "type"));
        Assert.Equal("1", Scalar(ds, "spec", "updateStrategy", "rollingUpdate", "maxUnavailable"));
        Assert.Equal("0", Scalar(ds, "spec", "updateStrategy", "rollingUpdate", "maxSurge")); // never two agents on one node
        Assert.Equal("edge", Scalar(Seq(pod, "tolerations")![0], "key"));
        Assert.Equal("linux", Scalar(pod, "nodeSelector", "kubernetes.io/os"));

        var agent = ChartPrivilegeTests.Container(ds, "agent");
        var args = Args(agent);
        Assert.Equal(["kubernetes", "--node", "$(NODE_NAME)"], args.Take(3));
        // Sidecar mode: the agent writes nginx's files where the sidecar reads them; its own state is on the node.
        Assert.Equal("sidecar", args[args.IndexOf("--nginx-mode") + 1]);
        Assert.Equal("/run/nginx-ha/nginx", args[args.IndexOf("--nginx-dir") + 1]);
        Assert.Equal("/var/lib/nginx-ha", args[args.IndexOf("--state-dir") + 1]);
        Assert.Equal("/var/lib/nginx", args[args.IndexOf("--nginx-temp-dir") + 1]); // the agent image's own (no chown for nginx -t)
        var state = Seq(pod, "volumes")!.OfType<YamlMappingNode>().Single(v => Scalar(v, "name") == PrivilegeCheck.AgentStateVolume);
        Assert.Equal("/var/lib/nginx-ha", Scalar(state, "hostPath", "path"));
        Assert.Contains(Seq(agent, "volumeMounts")!.OfType<YamlMappingNode>(), m => Scalar(m, "name") == PrivilegeCheck.AgentStateVolume
            && Scalar(m, "mountPath") == "/var/lib/nginx-ha");
        Assert.Equal("spec.nodeName", Scalar(Seq(agent, "env")!.OfType<YamlMappingNode>().Single(e => Scalar(e, "name") == "NODE_NAME"), "valueFrom", "fieldRef", "fieldPath"));
        // The heartbeat Lease beside the operator's, with the chart's duration.
        Assert.Equal("metadata.namespace", Scalar(Seq(agent, "env")!.OfType<YamlMappingNode>().Single(e => Scalar(e, "name") == "POD_NAMESPACE"), "valueFrom", "fieldRef", "fieldPath"));
        var agentArgs = Args(agent);
        Assert.Equal("$(POD_NAMESPACE)", agentArgs[agentArgs.IndexOf("--lease-namespace") + 1]);
        Assert.Equal("20s", agentArgs[agentArgs.IndexOf("--heartbeat-duration") + 1]);
        Assert.Equal(["NET_ADMIN", "NET_RAW"], Seq(agent, "securityContext", "capabilities", "add")!.OfType<YamlScalarNode>().Select(s => s.Value));
        Assert.Null(Get(agent, "lifecycle", "preStop")); // SIGTERM at once starts the priority-0 handover

        // nginx and the agent share the emptyDir holding the rendered config and the pid file.
        var nginx = ChartPrivilegeTests.Container(ds, "nginx");
        string MountOf(YamlMappingNode c) => Scalar(Seq(c, "volumeMounts")!.OfType<YamlMappingNode>().Single(m => Scalar(m, "mountPath") == "/run/nginx-ha"), "name")!;
        Assert.Equal(MountOf(agent), MountOf(nginx));
        Assert.NotNull(Map(Seq(pod, "volumes")!.OfType<YamlMappingNode>().Single(v => Scalar(v, "name") == MountOf(agent)), "emptyDir"));
        var start = string.Join(" ", Seq(nginx, "command")!.OfType<YamlScalarNode>().Select(s => s.Value));
        Assert.Contains("pid /run/nginx-ha/nginx/logs/nginx.pid;", start);
        Assert.Contains("-c conf/nginx.conf -e stderr", start); // no write to the image's /var/log/nginx (read-only root)

        // nginx's preStop waits for the agent to be gone, within the grace period.
        var preStop = string.Join(" ", Seq(nginx, "lifecycle", "preStop", "exec", "command")!.OfType<YamlScalarNode>().Select(s => s.Value));
        Assert.Contains("nginx-ha-agent /proc/[0-9]*/comm", preStop);
        Assert.Contains("-lt 20", preStop);
        Assert.Equal("30", Scalar(pod, "terminationGracePeriodSeconds"));
    }

    [Fact]
    public async Task Rbac_grants_exactly_the_verbs_the_operator_and_agent_use()
    {
        var docs = await Render();
        static string Rules(YamlMappingNode role) => string.Join("\n", Seq(role, "rules")!.OfType<YamlMappingNode>().Select(r =>
            string.Join(";", new[] { "apiGroups", "resources", "resourceNames", "verbs" }.Select(k =>
                $"{k}={string.Join(",", Seq(r, k)?.OfType<YamlScalarNode>().Select(s => s.Value) ?? [])}"))));
        Assert.Equal("""
            apiGroups=nginx-ha.io;resources=virtualipgroups,nginxbackendpools;resourceNames=;verbs=list,watch,patch
            apiGroups=nginx-ha.io;resources=virtualipgroups/status,nginxbackendpools/status;resourceNames=;verbs=patch
            apiGroups=nginx-ha.io;resources=nodehaconfigs;resourceNames=;verbs=list,watch,patch,delete
            apiGroups=;resources=nodes;resourceNames=;verbs=list,watch
            apiGroups=discovery.k8s.io;resources=endpointslices;resourceNames=;verbs=list,watch
            apiGroups=;resources=secrets;resourceNames=;verbs=list,watch
            apiGroups=events.k8s.io;resources=events;resourceNames=;verbs=create,patch
            """, Rules(Kind(docs, "ClusterRole", "-operator")));
        Assert.Equal("""
            apiGroups=coordination.k8s.io;resources=leases;resourceNames=nginx-ha-operator;verbs=get,update
            apiGroups=coordination.k8s.io;resources=leases;resourceNames=;verbs=create
            """, Rules(Kind(docs, "Role", "-leader-election")));
        Assert.Equal("""
            apiGroups=coordination.k8s.io;resources=leases;resourceNames=;verbs=get,list,watch
            """, Rules(Kind(docs, "Role", "-operator-heartbeats")));
        Assert.Equal("""
            apiGroups=coordination.k8s.io;resources=leases;resourceNames=;verbs=get,create,update
            """, Rules(Kind(docs, "Role", "-agent-heartbeat")));
        Assert.Equal("nha-nginx-ha-operator-agent", Scalar(Seq(Kind(docs, "RoleBinding", "-agent-heartbeat"), "subjects")![0], "name"));
        Assert.Equal("nha-nginx-ha-operator-operator", Scalar(Seq(Kind(docs, "RoleBinding", "-operator-heartbeats"), "subjects")![0], "name"));
        Assert.Equal("""
            apiGroups=nginx-ha.io;resources=nodehaconfigs;resourceNames=;verbs=get,list,watch
            apiGroups=nginx-ha.io;resources=nodehaconfigs/status;resourceNames=;verbs=patch
            apiGroups=;resources=secrets;resourceNames=;verbs=get,watch
            apiGroups=events.k8s.io;resources=events;resourceNames=;verbs=create,patch
            """, Rules(Kind(docs, "ClusterRole", "-agent")));
        Assert.Equal("nha-nginx-ha-operator-agent", Scalar(Seq(Kind(docs, "ClusterRoleBinding", "-agent"), "subjects")![0], "name"));
    }

    [Fact]
    public async Task Uninstall_hook_is_a_pre_delete_job_running_the_operators_uninstall_with_its_own_account_allowed_only_list_and_delete()
    {
        var docs = await Render();
        var hooks = docs.Where(d => Scalar(d, "metadata", "annotations", "helm.sh/hook") is not null).ToList();
        // The account and its RBAC exist before the Job (lower weights), and all go once it succeeded.
        Assert.Equal(["ServiceAccount -10", "ClusterRole -5", "ClusterRoleBinding -5", "Job 0"],
            hooks.Select(h => $"{Scalar(h, "kind")} {Scalar(h, "metadata", "annotations", "helm.sh/hook-weight")}"));
        foreach (var hook in hooks)
        {
            Assert.Equal("pre-delete", Scalar(hook, "metadata", "annotations", "helm.sh/hook"));
            Assert.Equal("before-hook-creation,hook-succeeded", Scalar(hook, "metadata", "annotations", "helm.sh/hook-delete-policy"));
            Assert.Equal("nha-nginx-ha-operator-uninstall", Scalar(hook, "metadata", "name"));
        }
        var job = Kind(docs, "Job");
        var pod = Map(job, "spec", "template", "spec")!;
        Assert.Equal("0", Scalar(job, "spec", "backoffLimit"));
        Assert.Equal("Never", Scalar(pod, "restartPolicy"));
        Assert.Equal("nha-nginx-ha-operator-uninstall", Scalar(pod, "serviceAccountName"));
        var container = ChartPrivilegeTests.Container(job, "uninstall");
        Assert.Equal("localhost/nginx-ha-operator:0.1.0", Scalar(container, "image"));
        Assert.Equal(["uninstall", "--timeout", "120s"], Args(container));
        Assert.Equal(["uninstall", "--timeout", "3m"], Args(ChartPrivilegeTests.Container(Kind(await Render("--set", "uninstallHook.timeout=3m"), "Job"), "uninstall")));
        Assert.Equal("""
            apiGroups=nginx-ha.io;resources=virtualipgroups,nodehaconfigs;verbs=list,delete
            """, string.Join("\n", Seq(Kind(docs, "ClusterRole", "-uninstall"), "rules")!.OfType<YamlMappingNode>().Select(r =>
                string.Join(";", new[] { "apiGroups", "resources", "verbs" }.Select(k => $"{k}={string.Join(",", Seq(r, k)!.OfType<YamlScalarNode>().Select(s => s.Value))}")))));
        var binding = Kind(docs, "ClusterRoleBinding", "-uninstall");
        Assert.Equal("nha-nginx-ha-operator-uninstall", Scalar(binding, "roleRef", "name"));
        Assert.Equal("nha-nginx-ha-operator-uninstall", Scalar(Seq(binding, "subjects")![0], "name"));

        var off = await Render("--set", "uninstallHook.enabled=false");
        Assert.DoesNotContain(off, d => Scalar(d, "metadata", "annotations", "helm.sh/hook") is not null);
    }

    [Fact]
    public async Task Admission_policy_matches_the_agent_account_is_bound_to_deny_and_can_be_turned_off()
    {
        // What the policy allows and denies is evaluated for real in ChartAdmissionTests (the test cluster runs the
        // upstream admission plugin); here only the shape helm renders.
        var docs = await Render();
        var policy = Kind(docs, "ValidatingAdmissionPolicy");
        Assert.Equal("request.userInfo.username == 'system:serviceaccount:nginx-ha:nha-nginx-ha-operator-agent'",
            Scalar(Seq(policy, "spec", "matchConditions")![0], "expression"));
        Assert.Equal("Fail", Scalar(policy, "spec", "failurePolicy"));
        // The heartbeat Lease is matched too; what the expressions allow is evaluated for real in ChartAdmissionTests.
        Assert.Equal(["nginx-ha.io", "coordination.k8s.io"], Seq(policy, "spec", "matchConstraints", "resourceRules")!.OfType<YamlMappingNode>()
            .Select(r => Scalar(Seq(r, "apiGroups")![0])));
        Assert.Equal("Deny", Scalar(Seq(Kind(docs, "ValidatingAdmissionPolicyBinding"), "spec", "validationActions")![0]));
        Assert.DoesNotContain(await Render("--set", "admissionPolicy.enabled=false"), d => Scalar(d, "kind") == "ValidatingAdmissionPolicy");
    }

    [Fact]
    public async Task Monitoring_objects_appear_only_when_enabled()
    {
        var off = await Render();
        Assert.DoesNotContain(off, d => Scalar(d, "kind") is "PodMonitor" or "PrometheusRule");
        var on = await Render("--set", "monitoring.podMonitor.enabled=true", "--set", "monitoring.prometheusRule.enabled=true");
        // One PodMonitor per component, each scraping its pods' named port as the job the alert rules select.
        foreach (var (component, job) in new[] { ("agent", "nginx-ha-agent"), ("operator", "nginx-ha-operator") })
        {
            var monitor = Kind(on, "PodMonitor", $"-{component}");
            Assert.Equal(component, Scalar(monitor, "spec", "selector", "matchLabels", "app.kubernetes.io/component"));
            var endpoint = Seq(monitor, "spec", "podMetricsEndpoints")![0];
            Assert.Equal("metrics", Scalar(endpoint, "port"));
            Assert.Equal(job, Scalar(Seq(endpoint, "relabelings")![0], "replacement"));
        }
        var rule = Kind(on, "PrometheusRule");
        Assert.Contains(Seq(rule, "spec", "groups")!.OfType<YamlMappingNode>(), g => Scalar(g, "name") == "nginx-ha.vrrp");
    }

    [Fact]
    public async Task Notes_tell_how_to_check_the_vips()
    {
        var (code, output, error) = await Helm.RunAsync(["install", "nha", Helm.ChartPath, "--dry-run=client", "--namespace", "nginx-ha"]);
        Assert.True(code == 0, error);
        Assert.Contains("kubectl get vipg -A", output);
    }
}
