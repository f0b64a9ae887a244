using NginxHa.Core.Manifests;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Manifests;

public class ManifestLoaderTests
{
    private static string[] Errors(ManifestSet set) => set.Errors.Select(e => e.ToString()).ToArray();

    [Fact]
    public void Seed000DualMasterLoadsEveryKind()
    {
        var set = ManifestLoader.LoadFiles([TestData.PathOf("seed-000-dual-master.yaml")]);

        Assert.Empty(set.Errors);
        Assert.Empty(set.Warnings);
        Assert.Equal(["lb1", "lb2"], set.Nodes.Select(n => n.Metadata.Name));
        Assert.Equal("198.18.1.6", Assert.Single(set.Nodes[1].InternalIPs));
        var pool = Assert.Single(set.NginxBackendPools);
        Assert.Equal("edge/web", pool.DisplayName);
        var group = Assert.Single(set.VirtualIpGroups);
        Assert.Equal(VirtualIpGroupMode.ActiveActive, group.Spec.Mode);
        Assert.Equal(["198.18.1.8/24", "198.18.1.9/24"], group.Spec.VirtualIPs);
        Assert.Equal([51, 52], group.Spec.VirtualRouterIds!);
        Assert.Equal("edge", group.Spec.NodeSelector.MatchLabels["role"]);
        Assert.Equal("eth0", group.Spec.Interface);
        Assert.Equal(2, group.Spec.Vrrp.Version);
        Assert.Equal("vrrp-auth", group.Spec.Vrrp.AuthSecretRef!.Name);
        Assert.Equal("password", group.Spec.Vrrp.AuthSecretRef.Key);
        Assert.Equal("web", group.Spec.BackendPoolRef);
    }

    [Fact]
    public void Seed001UsesDefaultsAndKubectlListAndDefaultNamespace()
    {
        var set = ManifestLoader.LoadFiles([TestData.PathOf("seed-001-hot-standby.yaml")]);

        Assert.Empty(set.Errors);
        Assert.Equal(2, set.Nodes.Count);
        var group = Assert.Single(set.VirtualIpGroups);
        Assert.Equal("default/standby", group.DisplayName);
        Assert.Equal(VirtualIpGroupMode.ActivePassive, group.Spec.Mode);
        Assert.Equal(3, group.Spec.Vrrp.Version);
        Assert.True(group.Spec.Vrrp.Preempt);
        Assert.False(group.Spec.Vrrp.Unicast);
        Assert.Equal("5s", group.Spec.Vrrp.PreemptDelay);
        Assert.Null(group.Spec.VirtualRouterIds);
        Assert.Null(group.Spec.Interface);
    }

    [Fact]
    public void LoadFilesChecksReferencesAcrossFilesAndReportsUnreadableFiles()
    {
        var directory = Directory.CreateTempSubdirectory("nginx-ha-loader-");
        try
        {
            var poolFile = Path.Combine(directory.FullName, "pool.yaml");
            var groupFile = Path.Combine(directory.FullName, "group.yaml");
            File.WriteAllText(poolFile, "apiVersion: nginx-ha.io/v1alpha1\nkind: NginxBackendPool\nmetadata: {name: web}\nspec: {backends: {servers: [{address: 198.18.1.17, port: 80}]}}\n");
            File.WriteAllText(groupFile, "apiVersion: nginx-ha.io/v1alpha1\nkind: VirtualIpGroup\nmetadata: {name: web}\nspec: {virtualIPs: [198.18.0.1], backendPoolRef: web}\n");
            var missing = Path.Combine(directory.FullName, "missing.yaml");

            var together = ManifestLoader.LoadFiles([poolFile, groupFile]);
            var groupAlone = ManifestLoader.LoadFiles([groupFile, missing]);

            Assert.Empty(together.Errors);
            Assert.Equal(2, together.Objects.Count);
            Assert.Equal(2, groupAlone.Errors.Count);
            Assert.Contains($"{groupFile}:4: VirtualIpGroup default/web: spec.backendPoolRef: NginxBackendPool \"web\" not found in namespace \"default\"",
                Errors(groupAlone));
            Assert.Contains(Errors(groupAlone), e => e.StartsWith($"{missing}: cannot read the file: "));
            Assert.Empty(groupAlone.Objects);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("kind: VirtualIpGroup\nmetadata: {name: a}\n", "t.yaml:1: VirtualIpGroup: apiVersion: is required")]
    [InlineData("apiVersion: nginx-ha.io/v1alpha1\nmetadata: {name: a}\n", "t.yaml:1: kind: is required")]
    [InlineData("apiVersion: nginx-ha.io/v1alpha1\nkind: VirtualIPGroup\n",
        "t.yaml:1: kind: \"VirtualIPGroup\" is not supported (supported: nginx-ha.io/v1alpha1 VirtualIpGroup, nginx-ha.io/v1alpha1 NginxBackendPool, nginx-ha.io/v1alpha1 NodeHaConfig, v1 Node)")]
    [InlineData("apiVersion: nginx-ha.io/v1\nkind: VirtualIpGroup\n",
        "t.yaml:1: VirtualIpGroup: apiVersion: \"nginx-ha.io/v1\" is not supported for VirtualIpGroup (use nginx-ha.io/v1alpha1)")]
    [InlineData("- a\n- b\n", "t.yaml:1: a manifest document must be a mapping with apiVersion, kind and metadata")]
    [InlineData("apiVersion: v1\nkind: List\nitems: 3\n", "t.yaml:1: List: items: must be a list of objects")]
    public void DocumentsWithoutAUsableKindAreRejected(string yaml, string expected)
    {
        var set = ManifestLoader.LoadText("t.yaml", yaml);

        Assert.Equal([expected], Errors(set));
        Assert.Empty(set.Objects);
    }

    [Fact]
    public void YamlSyntaxErrorNamesFileAndLine()
    {
        var set = ManifestLoader.LoadText("web.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n   labels: x\n");

        var error = Assert.Single(set.Errors);
        Assert.StartsWith("web.yaml:5: YAML syntax error: ", error.ToString());
        Assert.DoesNotContain("Idx:", error.Message);
    }

    [Fact]
    public void DuplicateKeyIsASyntaxError()
    {
        var set = ManifestLoader.LoadText("web.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n  name: b\n");

        Assert.StartsWith("web.yaml:5: YAML syntax error: ", Assert.Single(set.Errors).ToString());
    }

    [Fact]
    public void EveryUnknownFieldIsReportedWithItsLineAndASuggestion()
    {
        const string yaml = """
            apiVersion: nginx-ha.io/v1alpha1
            kind: VirtualIpGroup
            metadata:
              name: web
              namespace: edge
              lables: {a: b}
            spec:
              virtualIPs: [198.18.0.1]
              vrrp:
                advertismentInterval: 1s
                unicast: yes
              nodeSelector:
                matchExpressions: []
            """;

        var set = ManifestLoader.LoadText("web.yaml", yaml);

        Assert.Equal(
        [
            "web.yaml:6: VirtualIpGroup edge/web: metadata: unknown field \"lables\" (did you mean \"labels\"?)",
            "web.yaml:10: VirtualIpGroup edge/web: spec.vrrp: unknown field \"advertismentInterval\" (did you mean \"advertisementInterval\"?)",
            "web.yaml:11: VirtualIpGroup edge/web: spec.vrrp.unicast: \"yes\" must be true or false",
            "web.yaml:13: VirtualIpGroup edge/web: spec.nodeSelector: unknown field \"matchExpressions\" (known fields: matchLabels)",
        ], Errors(set));
        Assert.Empty(set.Objects);
    }

    [Theory]
    [InlineData("spec: {virtualIPs: 198.18.0.1}", "t.yaml:5: VirtualIpGroup default/g: spec.virtualIPs: must be a list, not the value \"198.18.0.1\"")]
    [InlineData("spec: {virtualIPs: [198.18.0.1], vrrp: {version: \"3\"}}", "t.yaml:5: VirtualIpGroup default/g: spec.vrrp.version: \"3\" must be an integer")]
    [InlineData("spec: {virtualIPs: [198.18.0.1], vrrp: {version: three}}", "t.yaml:5: VirtualIpGroup default/g: spec.vrrp.version: \"three\" must be an integer")]
    [InlineData("spec: {virtualIPs: [198.18.0.1], mode: activeActive}", "t.yaml:5: VirtualIpGroup default/g: spec.mode: \"activeActive\" must be one of ActivePassive, ActiveActive")]
    [InlineData("spec: {virtualIPs: [198.18.0.1], vrrp: 2}", "t.yaml:5: VirtualIpGroup default/g: spec.vrrp: must be a mapping (an object with fields), not the value \"2\"")]
    [InlineData("spec: {virtualIPs: [198.18.0.1], interface: [eth0]}", "t.yaml:5: VirtualIpGroup default/g: spec.interface: must be a string, not a list")]
    [InlineData("spec: {virtualIPs: [198.18.0.1], virtualRouterIds: [1, 99999999999]}", "t.yaml:5: VirtualIpGroup default/g: spec.virtualRouterIds[1]: \"99999999999\" must be an integer")]
    public void TypeMismatchesNameFieldAndValue(string specLine, string expected)
    {
        var yaml = $"apiVersion: nginx-ha.io/v1alpha1\nkind: VirtualIpGroup\nmetadata:\n  name: g\n{specLine}\n";

        Assert.Equal([expected], Errors(ManifestLoader.LoadText("t.yaml", yaml)));
    }

    [Theory]
    [InlineData("[12]", "t.yaml:5: NginxBackendPool default/p: spec.listeners[0]: must be a mapping (an object with fields), not the value \"12\"")]
    [InlineData("[~]", "t.yaml:5: NginxBackendPool default/p: spec.listeners[0]: a list item must not be empty (null)")]
    [InlineData("[{port: 80}, null]", "t.yaml:5: NginxBackendPool default/p: spec.listeners[1]: a list item must not be empty (null)")]
    public void A_list_item_of_the_wrong_shape_is_reported_and_left_out_never_crashing_validation(string listeners, string expected)
    {
        var yaml = "apiVersion: nginx-ha.io/v1alpha1\nkind: NginxBackendPool\nmetadata:\n  name: p\n" +
                   $"spec: {{listeners: {listeners}, backends: {{servers: [{{address: 198.18.0.21, port: 8080}}]}}}}\n";

        var set = ManifestLoader.LoadText("t.yaml", yaml);

        Assert.Contains(expected, Errors(set));
        Assert.Empty(set.Objects);
    }

    [Fact]
    public void DuplicateObjectsAreBothDroppedAndNamed()
    {
        const string node = "apiVersion: v1\nkind: Node\nmetadata: {name: lb1}\n";
        var set = ManifestLoader.LoadText("nodes.yaml", node + "---\n" + node + "---\napiVersion: v1\nkind: Node\nmetadata: {name: lb2}\n");

        Assert.Equal(["nodes.yaml:5: Node lb1: is defined twice (also at nodes.yaml:1)"], Errors(set));
        Assert.Equal(["lb2"], set.Nodes.Select(n => n.Metadata.Name));
    }

    [Fact]
    public void SameNameInDifferentNamespacesOrKindsIsNoDuplicate()
    {
        const string yaml = """
            apiVersion: nginx-ha.io/v1alpha1
            kind: NginxBackendPool
            metadata: {name: web, namespace: a}
            spec: {backends: {servers: [{address: 198.18.1.17, port: 80}]}}
            ---
            apiVersion: nginx-ha.io/v1alpha1
            kind: NginxBackendPool
            metadata: {name: web, namespace: b}
            spec: {backends: {servers: [{address: 198.18.1.17, port: 80}]}}
            ---
            apiVersion: nginx-ha.io/v1alpha1
            kind: VirtualIpGroup
            metadata: {name: web, namespace: a}
            spec: {virtualIPs: [198.18.0.1], backendPoolRef: web}
            """;

        var set = ManifestLoader.LoadText("t.yaml", yaml);

        Assert.Empty(set.Errors);
        Assert.Equal(3, set.Objects.Count);
    }

    [Fact]
    public void NodeSelectorMatchingNoNodeIsAWarningNotAnError()
    {
        const string yaml = """
            apiVersion: v1
            kind: Node
            metadata: {name: lb1, labels: {role: edge}}
            ---
            apiVersion: nginx-ha.io/v1alpha1
            kind: VirtualIpGroup
            metadata: {name: web, namespace: edge}
            spec:
              virtualIPs: [198.18.0.1]
              nodeSelector: {matchLabels: {role: egde}}
            """;

        var set = ManifestLoader.LoadText("t.yaml", yaml);

        Assert.Empty(set.Errors);
        Assert.Equal(["t.yaml:10: VirtualIpGroup edge/web: spec.nodeSelector: matches none of the 1 Node objects, so no node carries its virtual IPs"],
            set.Warnings.Select(w => w.ToString()));
        Assert.Single(set.VirtualIpGroups);
    }

    [Fact]
    public void NamespaceOnAClusterScopedKindIsIgnoredWithAWarning()
    {
        var set = ManifestLoader.LoadText("t.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: lb1\n  namespace: edge\n");

        Assert.Empty(set.Errors);
        Assert.Equal(["t.yaml:5: Node lb1: metadata.namespace: \"edge\" is ignored: Node is cluster-scoped"], set.Warnings.Select(w => w.ToString()));
        Assert.Equal("lb1", set.Nodes[0].DisplayName);
    }

    [Fact]
    public void ServerManagedMetadataFromKubectlGetIsAccepted()
    {
        const string yaml = """
            apiVersion: v1
            kind: Node
            metadata:
              name: lb1
              uid: 3b7c2d4e-0000-0000-0000-000000000000
              resourceVersion: "42"
              creationTimestamp: "2024-01-01T00:00:00Z"
              annotations: {note: kept}
            """;

        var set = ManifestLoader.LoadText("t.yaml", yaml);

        Assert.Empty(set.Errors);
        Assert.Equal("kept", set.Nodes[0].Metadata.Annotations["note"]);
    }

    [Fact]
    public void EmptyDocumentsAndCommentsAreSkipped()
    {
        var set = ManifestLoader.LoadText("t.yaml", "---\n# only a comment\n---\napiVersion: v1\nkind: Node\nmetadata: {name: lb1}\n---\n");

        Assert.Empty(set.Errors);
        Assert.Single(set.Nodes);
    }

    [Fact]
    public void OneBadObjectDoesNotHideTheGoodOnes()
    {
        var set = ManifestLoader.LoadText("t.yaml",
            "apiVersion: v1\nkind: Node\nmetadata: {name: Bad_Name}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: good}\n");

        Assert.Equal(["t.yaml:3: Node Bad_Name: metadata.name: \"Bad_Name\" must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', starting and ending alphanumeric)"],
            Errors(set));
        Assert.Equal(["good"], set.Nodes.Select(n => n.Metadata.Name));
        Assert.False(set.IsValid);
    }

    [Fact]
    public void NodeHaConfigRoundTripsThroughTheLoader()
    {
        const string yaml = """
            apiVersion: nginx-ha.io/v1alpha1
            kind: NodeHaConfig
            metadata: {name: lb1}
            spec:
              nodeName: lb1
              vrrpInstances:
                - name: edge/web/0
                  group: edge/web
                  interface: eth0
                  version: 2
                  virtualRouterId: 51
                  priority: 254
                  advertisementInterval: 1s
                  preempt: true
                  preemptDelay: 0s
                  virtualIPs: [198.18.1.8/24]
                  unicastPeers: [198.18.1.6]
                  authSecretRef: {namespace: edge, name: vrrp-auth, key: password}
              backendPools:
                - name: edge/web
                  spec: {backends: {servers: [{address: 198.18.1.17, port: 80}]}}
            status:
              instances:
                - {name: edge/web/0, state: Master, master: 198.18.1.5, transitions: 3, lastTransitionTime: "2024-05-01T10:00:00Z"}
              nginx: {state: Running}
            """;

        var set = ManifestLoader.LoadText("t.yaml", yaml);

        Assert.Empty(set.Errors);
        var config = Assert.Single(set.NodeHaConfigs);
        var instance = Assert.Single(config.Spec.VrrpInstances);
        Assert.Equal((51, 254, "edge"), (instance.VirtualRouterId, instance.Priority, instance.AuthSecretRef!.Namespace));
        Assert.Equal("edge/web", Assert.Single(config.Spec.BackendPools).Name);
        Assert.Equal(VrrpInstanceState.Master, config.Status!.Instances[0].State);
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero), config.Status.Instances[0].LastTransitionTime);
    }
}
