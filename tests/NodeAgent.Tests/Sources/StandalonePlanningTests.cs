using System.Net;
using NginxHa.Core.Nginx;
using NginxHa.NodeAgent.Cli;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Node;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Vrrp;
using CoreInstance = NginxHa.Core.Resources.VrrpInstanceConfig;

namespace NginxHa.NodeAgent.Tests.Sources;

public sealed class StandalonePlanningTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nginx-ha-standalone-");

    static readonly ConfiguredAddress[] Host =
    [
        new("lo", IPAddress.Loopback, 8),
        new("eth0", IPAddress.Parse("198.18.0.11"), 24),
        new("eth1", IPAddress.Parse("198.19.0.11"), 16),
        new("eth0", IPAddress.Parse("fe80::1"), 64),
        new("eth0", IPAddress.Parse("fd00::11"), 64),
    ];

    const string DualMaster = """
        apiVersion: v1
        kind: Node
        metadata: {name: lb1, labels: {role: edge}}
        status: {addresses: [{type: InternalIP, address: 198.18.0.11}]}
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: lb2, labels: {role: edge}}
        status: {addresses: [{type: InternalIP, address: 198.18.0.12}]}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: NginxBackendPool
        metadata: {name: web, namespace: edge}
        spec:
          loadBalancing: {method: IpHash}
          backends: {servers: [{address: 198.18.0.21, port: 8080}, {address: 198.18.0.22, port: 8080}]}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {name: web, namespace: edge}
        spec:
          mode: ActiveActive
          virtualIPs: [198.18.0.201/24, 198.18.0.202/24]
          nodeSelector: {matchLabels: {role: edge}}
          vrrp: {version: 3, advertisementInterval: 100ms}
          backendPoolRef: web
        """;

    string Write(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    static NginxRuntimeOptions Runtime => NginxRuntimeOptions.UnderDirectory("/run/nginx-ha/lb1/nginx", 18080) with { PidFile = null };

    /// <summary>The standalone path: file source, then the reconciler's pure translation for this host.</summary>
    static NodeDesiredState? Load(string[] files, string node, out IReadOnlyList<string> problems)
    {
        var loaded = new FileConfigSource(files, node, TimeProvider.System, _ => { }).Load("test");
        if (loaded is NodeConfigRejected rejected)
        {
            problems = rejected.Problems;
            return null;
        }
        return NodeDesiredState.From((NodeConfigUpdate)loaded, Host, Runtime, out problems);
    }

    [Fact]
    public void Dual_master_manifests_give_this_node_two_instances_and_an_nginx_config()
    {
        var file = Write("site.yaml", DualMaster);
        var state = Load([file], "lb1", out var problems);
        Assert.True(state is not null, string.Join("\n", problems));
        Assert.Equal(2, state.Instances.Count);
        Assert.All(state.Instances, i => Assert.Equal("eth0", i.Interface));
        Assert.All(state.Instances, i => Assert.Equal(TimeSpan.FromMilliseconds(100), i.AdvertInterval));
        Assert.Equal([253, 254], state.Instances.Select(i => (int)i.Priority).Order());
        Assert.Contains("ip_hash;", state.NginxConfig);
        Assert.Contains("server 198.18.0.21:8080", state.NginxConfig);
        Assert.DoesNotContain("\npid ", state.NginxConfig);
    }

    [Fact]
    public void Invalid_manifests_list_every_error_and_start_nothing()
    {
        var file = Write("bad.yaml", DualMaster.Replace("198.18.0.202/24", "198.18.0.300/24").Replace("port: 8080}]", "port: 0}]"));
        var state = Load([file], "lb1", out var problems);
        Assert.Null(state);
        Assert.Contains(problems, p => p.Contains("bad.yaml:") && p.Contains("spec.virtualIPs[1]") && p.Contains("\"198.18.0.300/24\""));
        Assert.Contains(problems, p => p.Contains("spec.backends.servers[1].port"));
    }

    [Fact]
    public void An_unknown_node_is_named()
    {
        var file = Write("site.yaml", DualMaster);
        Assert.Null(Load([file], "lb9", out var problems));
        Assert.Equal("--node: \"lb9\" is not one of the Node documents (lb1, lb2)", Assert.Single(problems));
    }

    [Theory]
    [InlineData("198.18.0.201", "eth0")]
    [InlineData("198.19.3.4", "eth1")]
    [InlineData("fd00::201", "eth0")]
    public void The_interface_is_the_one_whose_subnet_holds_the_vip(string vip, string expected)
    {
        Assert.Equal(expected, InterfaceSelector.Select(IPAddress.Parse(vip), Host, out var reason));
        Assert.Null(reason);
    }

    [Fact]
    public void No_matching_subnet_asks_for_spec_interface()
    {
        Assert.Null(InterfaceSelector.Select(IPAddress.Parse("203.0.113.1"), Host, out var reason));
        Assert.Equal("no interface has an address in the same subnet as 203.0.113.1; set spec.interface", reason);
    }

    [Fact]
    public void Two_interfaces_on_one_subnet_are_ambiguous()
    {
        ConfiguredAddress[] host = [new("eth0", IPAddress.Parse("198.18.0.11"), 24), new("eth1", IPAddress.Parse("198.18.0.12"), 24)];
        Assert.Null(InterfaceSelector.Select(IPAddress.Parse("198.18.0.201"), host, out var reason));
        Assert.Equal("interfaces eth0, eth1 all have a subnet containing 198.18.0.201; set spec.interface", reason);
    }

    [Fact]
    public void A_secret_reference_needs_kubernetes()
    {
        var file = Write("site.yaml", DualMaster.Replace("vrrp: {version: 3, advertisementInterval: 100ms}",
            "vrrp: {version: 2, authSecretRef: {name: vrrp, key: password}}"));
        Assert.Null(Load([file], "lb1", out var problems));
        Assert.Contains("edge/web/0: authSecretRef: Secrets need Kubernetes; in standalone mode give spec.vrrp.authPasswordFile", problems);
    }

    [Fact]
    public void The_file_source_resolves_a_password_file_into_the_plan_and_never_into_its_messages()
    {
        var password = Write("vrrp-pass", "s3cret\n");
        File.SetUnixFileMode(password, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var file = Write("site.yaml", DualMaster.Replace("vrrp: {version: 3, advertisementInterval: 100ms}",
            $"vrrp: {{version: 2, authPasswordFile: {password}}}"));
        var state = Load([file], "lb1", out var problems);
        Assert.True(state is not null, string.Join("\n", problems));
        Assert.All(state.Instances, i => Assert.Equal(VrrpSimplePassword.ToAuthData("s3cret").ToArray(), i.AuthData.ToArray()));
        Assert.DoesNotContain("s3cret", new NodeSecrets(new Dictionary<string, ReadOnlyMemory<byte>> { ["x"] = state.Instances[0].AuthData }).ToString());
    }

    [Fact]
    public void A_missing_password_file_is_a_config_error_naming_the_file_line_and_the_field()
    {
        var file = Write("site.yaml", DualMaster.Replace("vrrp: {version: 3, advertisementInterval: 100ms}",
            $"vrrp: {{version: 2, authPasswordFile: {_dir.FullName}/absent}}"));
        Assert.Null(Load([file], "lb1", out var problems));
        Assert.Contains(problems, p => p.Contains("site.yaml:", StringComparison.Ordinal)
            && p.Contains("spec.vrrp.authPasswordFile") && p.Contains("absent"));
    }

    [Fact]
    public void An_ipv6_instance_advertises_a_link_local_address_first_and_picks_its_interface_by_the_routable_vip()
    {
        // RFC 5798 section 5.2.9. The added address is the VRID 60 router's (fe80::200:5eff:fe00:23c); the group lists only
        // fd00::100, so nginx and status never see it. A given link-local VIP names no subnet: fd00::100 picks eth0.
        var added = InstancePlan.From(new CoreInstance { Name = "edge/v6/0", VirtualRouterId = 60, Priority = 200, VirtualIPs = ["fd00::100/64"] },
            ReadOnlyMemory<byte>.Empty, Host, out var problem);
        Assert.Null(problem);
        Assert.Equal("eth0", added!.Interface);
        Assert.Equal(["fe80::200:5eff:fe00:23c/64", "fd00::100/64"], added.VirtualAddresses.Select(v => v.ToString()));

        var given = InstancePlan.From(new CoreInstance { Name = "edge/v6/0", VirtualRouterId = 60, Priority = 200, VirtualIPs = ["fe80::60/64", "fd00::100/64"] },
            ReadOnlyMemory<byte>.Empty, Host, out problem);
        Assert.Null(problem);
        Assert.Equal("eth0", given!.Interface);
        Assert.Equal(["fe80::60/64", "fd00::100/64"], given.VirtualAddresses.Select(v => v.ToString()));
    }

    [Fact]
    public void An_instance_whose_password_the_source_did_not_resolve_is_refused()
    {
        var instance = new CoreInstance
        {
            Name = "edge/web/0", VirtualRouterId = 51, Priority = 254, Version = 2, VirtualIPs = ["198.18.0.201/24"],
            AuthSecretRef = new() { Namespace = "edge", Name = "vrrp", Key = "password" },
        };
        Assert.Null(InstancePlan.From(instance, ReadOnlyMemory<byte>.Empty, Host, out var problem));
        Assert.Equal("edge/web/0: authSecretRef: the password was not resolved by the config source", problem);
    }

    [Fact]
    public void Run_arguments()
    {
        var o = RunCommandLine.Parse(["-f", "/etc/a.yaml", "--file", "/etc/b.yaml", "--node", "lb1", "--health-port", "9000"]);
        Assert.Equal(["/etc/a.yaml", "/etc/b.yaml"], o.Files);
        Assert.Equal("/run/nginx-ha/lb1", o.StateDirectory);
        Assert.Equal("/usr/sbin/nginx", o.NginxBinary);
        Assert.Equal(9000, o.HealthPort);
        Assert.Equal(65534u, o.NginxWorkerGroupId); // nogroup: nginx's workers without a user directive
        Assert.Equal(101u, RunCommandLine.Parse(["-f", "a.yaml", "--node", "lb1", "--nginx-worker-gid", "101"]).NginxWorkerGroupId);
    }

    [Theory]
    [InlineData("--node lb1", "-f: at least one manifest file is required")]
    [InlineData("-f a.yaml", "--node: required (the name of this host's Node document)")]
    [InlineData("-f a.yaml --node lb1 --health-port 70000", "--health-port: \"70000\" is not a port from 1 to 65535")]
    [InlineData("-f a.yaml --node", "--node: a value is required")]
    [InlineData("-f a.yaml --node lb1 --nginx-worker-gid 0", "--nginx-worker-gid: \"0\" is not a group id from 1 to 4294967294")]
    [InlineData("-f a.yaml --node lb1 --nginx-worker-gid nogroup", "--nginx-worker-gid: \"nogroup\" is not a group id from 1 to 4294967294")]
    [InlineData("-f a.yaml --node lb1 --verbose", "--verbose: unknown argument")]
    public void Bad_run_arguments_name_the_argument(string line, string message) =>
        Assert.Equal(message, Assert.Throws<UsageException>(() => RunCommandLine.Parse(line.Split(' '))).Message);

    public void Dispose() => _dir.Delete(recursive: true);
}
