namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The podman stand-in for a kubelet, without podman: the chart's rendered DaemonSet and Deployment become exactly the expected
/// podman arguments, and any pod-spec field the stand-in does not know stops it, naming the field.
/// </summary>
public sealed class PodmanTranslatorTests
{
    static readonly PodPlacement Placement = new("lb1-abc123", "nginx-ha", "lb1", "198.18.0.1", "/run/netns/lab-n0",
        new Dictionary<string, string> { ["run"] = "/tmp/pod/run", ["state"] = "/tmp/pod/state", ["nginx-tmp"] = "/tmp/pod/nginx-tmp" },
        new ServiceAccountMount("/tmp/pod/sa", "127.0.0.1", 6443));

    static string Rendered() => ChartRender.Template(ChartRender.ImageTags("t1"));

    [Fact]
    public void ChartDaemonSet_TranslatesToAPodSharingPidsAndContainersOnTheNodesNetwork_WithTheSpecsSecurityContext()
    {
        var plan = PodmanTranslator.Translate(PodSpecReader.FromManifests(Rendered(), "DaemonSet"), Placement);

        Assert.Equal(["pod", "create", "--name", "lb1-abc123", "--network", "none", "--share", "ipc,uts,pid"], plan.Create);
        Assert.Equal(30, plan.GraceSeconds);
        Assert.Equal(["agent", "nginx"], plan.Containers.Select(c => c.Name));

        var agent = plan.Container("agent").Run;
        Assert.Equal(["run", "--detach", "--pod", "lb1-abc123", "--name", "lb1-abc123-agent", "--pull", "never", "--network", "ns:/run/netns/lab-n0",
            "--user", "0", "--group-add", "65534", "--read-only", "--read-only-tmpfs=false", "--security-opt", "no-new-privileges",
            "--cap-drop=ALL", "--cap-add=NET_ADMIN", "--cap-add=NET_RAW", "--memory", $"{128 << 20}", "--cpu-shares", "20",
            "--env", "NODE_NAME=lb1", "--env", "NODE_IP=198.18.0.1", "--env", "POD_NAMESPACE=nginx-ha", "--env", "KUBERNETES_SERVICE_HOST=127.0.0.1", "--env", "KUBERNETES_SERVICE_PORT=6443",
            "--volume", "/tmp/pod/run:/run/nginx-ha", "--volume", "/tmp/pod/state:/var/lib/nginx-ha",
            "--volume", $"/tmp/pod/sa:{PodmanTranslator.ServiceAccountPath}:ro",
            "localhost/nginx-ha-agent:t1",
            "kubernetes", "--node", "lb1", "--nginx-mode", "sidecar", "--nginx-dir", "/run/nginx-ha/nginx", "--nginx-temp-dir", "/var/lib/nginx",
            "--state-dir", "/var/lib/nginx-ha", "--metrics-address", "198.18.0.1:9464", "--log-format", "text",
            "--lease-namespace", "nginx-ha", "--heartbeat-duration", "20s"], agent);
        Assert.Equal(new Uri("http://198.18.0.1:9464/readyz"), plan.Container("agent").Readiness);
        Assert.Equal(new Uri("http://198.18.0.1:9464/healthz"), plan.Container("agent").Liveness);
        Assert.Null(plan.Container("agent").PreStop);

        var nginx = plan.Container("nginx");
        Assert.Contains("--cap-drop=ALL", nginx.Run);
        Assert.Equal(["--cap-add=NET_BIND_SERVICE", "--cap-add=SETUID", "--cap-add=SETGID", "--cap-add=CHOWN"],
            nginx.Run.Where(a => a.StartsWith("--cap-add=", StringComparison.Ordinal)));
        Assert.StartsWith("[\"/bin/sh\",\"-c\",\"mkdir -p /run/nginx-ha/nginx/logs\\n", nginx.Run[nginx.Run.ToList().IndexOf("--entrypoint") + 1]);
        Assert.Equal("localhost/nginx-ha-nginx:t1", nginx.Run[^1]);
        Assert.Contains("/tmp/pod/nginx-tmp:/var/lib/nginx", nginx.Run);
        Assert.DoesNotContain("/tmp/pod/state:/var/lib/nginx-ha", nginx.Run);
        Assert.Equal(["/bin/sh", "-c"], nginx.PreStop!.Take(2));
    }

    /// <summary>The operator's pod has a network of its own: a namespace the test made stands in for it.</summary>
    static readonly PodPlacement OperatorPlacement = new("op-abc123", "nginx-ha", "worker1", "198.18.0.1", "/run/netns/lab-n0",
        new Dictionary<string, string>(), new ServiceAccountMount("/tmp/pod/sa", "127.0.0.1", 6443), PodNetwork: true);

    static string RenderedWithOperator() => ChartRender.Template([.. ChartRender.ImageTags("t1"), .. ChartRender.OperatorImageTag("t1")]);

    [Fact]
    public void ChartDeployment_TranslatesToOneOperatorContainerInThePodsOwnNetwork_WithTheSpecsSecurityContextAndLimits()
    {
        var plan = PodmanTranslator.Translate(PodSpecReader.FromManifests(RenderedWithOperator(), "Deployment"), OperatorPlacement);

        Assert.Equal(["pod", "create", "--name", "op-abc123", "--network", "none", "--share", "ipc,uts"], plan.Create);
        Assert.Equal(30, plan.GraceSeconds);
        Assert.Equal(["operator"], plan.Containers.Select(c => c.Name));
        Assert.Equal(["run", "--detach", "--pod", "op-abc123", "--name", "op-abc123-operator", "--pull", "never", "--network", "ns:/run/netns/lab-n0",
            "--user", "65532:65532", "--read-only", "--read-only-tmpfs=false", "--security-opt", "no-new-privileges",
            "--cap-drop=ALL", "--memory", $"{256 << 20}", "--cpus", "0.5", "--cpu-shares", "51",
            "--env", "POD_NAME=op-abc123", "--env", "KUBERNETES_SERVICE_HOST=127.0.0.1", "--env", "KUBERNETES_SERVICE_PORT=6443",
            "--volume", $"/tmp/pod/sa:{PodmanTranslator.ServiceAccountPath}:ro",
            "localhost/nginx-ha-operator:t1",
            "run", "--lease-namespace", "nginx-ha", "--lease-name", "nginx-ha-operator", "--lease-duration", "15s", "--identity", "op-abc123",
            "--workers", "2", "--release-timeout", "60s", "--apply-grace", "10s", "--metrics-address", "0.0.0.0:8080"], plan.Container("operator").Run);
        Assert.Equal(new Uri("http://198.18.0.1:8080/readyz"), plan.Container("operator").Readiness);
        Assert.Equal(new Uri("http://198.18.0.1:8080/healthz"), plan.Container("operator").Liveness);
        Assert.Null(plan.Container("operator").PreStop);
    }

    [Fact]
    public void APodsNetwork_MustBeWhatThePlacementGives()
    {
        var rendered = RenderedWithOperator();
        Assert.Equal("hostNetwork", Assert.Throws<UnsupportedPodFieldException>(() =>
            PodmanTranslator.Translate(PodSpecReader.FromManifests(rendered, "Deployment"), Placement)).Path);
        Assert.Equal("hostNetwork", Assert.Throws<UnsupportedPodFieldException>(() =>
            PodmanTranslator.Translate(PodSpecReader.FromManifests(rendered, "DaemonSet"), OperatorPlacement)).Path);
        // The node's address is not the pod's when the pod has a network of its own.
        var deployment = PodSpecReader.FromManifests(rendered, "Deployment")
            .WithContainer("operator", c => c with { Env = [new PodEnvVar("HOST_IP", null, "status.hostIP")] });
        Assert.Contains("fieldRef", Assert.Throws<UnsupportedPodFieldException>(() => PodmanTranslator.Translate(deployment, OperatorPlacement)).Path);
    }

    /// <summary>The Deployment's pod is read with the same rules: a field the stand-in does not run is refused, named.</summary>
    [Theory]
    [InlineData("      serviceAccountName: nha-nginx-ha-operator-operator\n",
        "      serviceAccountName: nha-nginx-ha-operator-operator\n      topologySpreadConstraints: []\n", "Deployment.spec.template.spec.topologySpreadConstraints")]
    [InlineData("        runAsGroup: 65532\n", "        runAsGroup: 65532\n        fsGroup: 65532\n", "Deployment.spec.template.spec.securityContext.fsGroup")]
    [InlineData("          imagePullPolicy: IfNotPresent\n          args:\n            - run\n",
        "          imagePullPolicy: IfNotPresent\n          workingDir: /app\n          args:\n            - run\n", "Deployment.spec.template.spec.containers[0].workingDir")]
    [InlineData("              drop: [ALL]\n", "              drop: [ALL]\n              add: [SYS_ADMIN]\n            windowsOptions: {}\n",
        "Deployment.spec.template.spec.containers[operator].securityContext.windowsOptions")]
    [InlineData("          readinessProbe:\n            httpGet:\n", "          readinessProbe:\n            grpc: {port: 1}\n            httpGet:\n",
        "Deployment.spec.template.spec.containers[operator].readinessProbe.grpc")]
    public void AFieldTheStandInDoesNotKnow_InTheOperatorsPod_IsRefused_NamingIt(string anchor, string replacement, string path)
    {
        var rendered = RenderedWithOperator();
        int deployment = rendered.IndexOf("kind: Deployment\n", StringComparison.Ordinal);
        Assert.True(deployment > 0);
        Assert.Contains(anchor, rendered[deployment..]);
        var changed = rendered[..deployment] + ReplaceFirst(rendered[deployment..], anchor, replacement);

        var refused = Assert.Throws<UnsupportedPodFieldException>(() => PodSpecReader.FromManifests(changed, "Deployment"));
        Assert.Equal(path, refused.Path);
    }

    [Theory]
    [InlineData("ci/edge-nodes-values.yaml")]
    [InlineData("ci/single-operator-values.yaml")]
    public void EveryExampleValuesFile_RendersAPodTheStandInKnows(string valuesFile)
    {
        var spec = ChartRender.DaemonSetPod(ChartRender.ImageTags("t1"), valuesFile);
        var plan = PodmanTranslator.Translate(spec, Placement);
        Assert.Contains("--cap-add=NET_RAW", plan.Container("agent").Run);
    }

    /// <summary>A field added to the chart's pod that the stand-in does not run: the pod tests must not pass by ignoring it.</summary>
    [Theory]
    [InlineData("      hostNetwork: true\n", "      hostNetwork: true\n      hostPID: true\n", "DaemonSet.spec.template.spec.hostPID")]
    [InlineData("      hostNetwork: true\n", "      hostNetwork: true\n      initContainers: []\n", "DaemonSet.spec.template.spec.initContainers")]
    [InlineData("            readOnlyRootFilesystem: true\n", "            readOnlyRootFilesystem: true\n            procMount: Unmasked\n",
        "DaemonSet.spec.template.spec.containers[agent].securityContext.procMount")]
    [InlineData("              mountPath: /var/lib/nginx-ha\n", "              mountPath: /var/lib/nginx-ha\n              subPath: x\n",
        "DaemonSet.spec.template.spec.containers[agent].volumeMounts[1].subPath")]
    [InlineData("          emptyDir:\n            sizeLimit: 64Mi\n", "          configMap: {name: x}\n", "DaemonSet.spec.template.spec.volumes[2].configMap")]
    [InlineData("                  fieldPath: status.hostIP\n", "                  fieldPath: status.hostIP\n            - name: X\n              valueFrom: {secretKeyRef: {name: s, key: k}}\n",
        "DaemonSet.spec.template.spec.containers[agent].env[2].valueFrom.secretKeyRef")]
    public void AFieldTheStandInDoesNotKnow_IsRefused_NamingIt(string anchor, string replacement, string path)
    {
        var rendered = Rendered();
        Assert.Contains(anchor, rendered);
        var changed = ReplaceFirst(rendered, anchor, replacement);

        var refused = Assert.Throws<UnsupportedPodFieldException>(() => PodSpecReader.FromManifests(changed, "DaemonSet"));
        Assert.Equal(path, refused.Path);
    }

    [Fact]
    public void WhatPodmanCannotRunAsTheSpecSays_IsRefused()
    {
        var spec = PodSpecReader.FromManifests(Rendered(), "DaemonSet");
        UnsupportedPodFieldException Refused(PodSpec s) => Assert.Throws<UnsupportedPodFieldException>(() => PodmanTranslator.Translate(s, Placement));

        Assert.Contains("privileged", Refused(spec.WithContainer("agent", c => c with { Security = c.Security with { Privileged = true } })).Path);
        Assert.Contains("runAsNonRoot", Refused(spec.WithContainer("agent", c => c with { Security = c.Security with { RunAsNonRoot = true } })).Path);
        Assert.Contains("seccompProfile", Refused(spec.WithContainer("nginx", c => c with { Security = c.Security with { Seccomp = "Localhost" } })).Path);
        Assert.Contains("fieldRef", Refused(spec.WithContainer("agent", c => c with { Env = [new PodEnvVar("X", null, "spec.serviceAccountName")] })).Path);
        Assert.Equal("hostNetwork", Refused(spec with { HostNetwork = false }).Path);
    }

    [Fact]
    public void Settings_AreTranslatedAsKubernetesMeansThem()
    {
        var spec = PodSpecReader.FromManifests(Rendered(), "DaemonSet");
        var agent = spec.Container("agent");
        IReadOnlyList<string> Run(ContainerSecurity security) =>
            PodmanTranslator.Translate(spec.WithContainer("agent", c => c with { Security = security }), Placement).Container("agent").Run;

        // Unset seccomp is Unconfined in Kubernetes (without SeccompDefault), not podman's default profile.
        Assert.Contains("seccomp=unconfined", Run(agent.Security with { Seccomp = null }));
        Assert.DoesNotContain("seccomp=unconfined", Run(agent.Security));
        // Unset allowPrivilegeEscalation allows it; a writable root gets no --read-only.
        Assert.DoesNotContain("no-new-privileges", Run(agent.Security with { AllowPrivilegeEscalation = null }));
        Assert.DoesNotContain("--read-only", Run(agent.Security with { ReadOnlyRootFilesystem = false }));
        Assert.Contains("65532:65532", Run(agent.Security with { RunAsUser = 65532, RunAsGroup = 65532, RunAsNonRoot = true }));
        // No shared process namespace: the pod shares IPC and UTS only.
        Assert.Equal("ipc,uts", PodmanTranslator.Translate(spec with { ShareProcessNamespace = false }, Placement).Create[^1]);
        Assert.Equal("a-lb1-$(UNKNOWN)", PodmanTranslator.Expand("a-$(NODE_NAME)-$(UNKNOWN)", new Dictionary<string, string> { ["NODE_NAME"] = "lb1" }));
        Assert.Equal(512L << 20, Quantity.Bytes("512Mi"));
        Assert.Equal(250, Quantity.MilliCpu("250m"));
        Assert.Equal(1500, Quantity.MilliCpu("1.5"));
    }

    static string ReplaceFirst(string text, string anchor, string replacement)
    {
        int at = text.IndexOf(anchor, StringComparison.Ordinal);
        return text[..at] + replacement + text[(at + anchor.Length)..];
    }
}
