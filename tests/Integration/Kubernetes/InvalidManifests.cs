namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// The table of invalid manifests that both checkers must refuse: the C# validators (standalone mode) and the API
/// server with the generated CRDs (cluster mode). Each row names the field both must name, and what the server
/// says to the user. <see cref="Both"/>, when set, is a phrase both messages contain word for word.
/// </summary>
public static class InvalidManifests
{
    public sealed record Case(string Name, string Kind, string Spec, string Field, string ServerSays, string? Both = null, string? ObjectName = null)
    {
        public override string ToString() => Name;

        /// <summary>The manifest, a valid object but for what the row breaks.</summary>
        public string Yaml => Kind switch
        {
            "NodeHaConfig" => $"""
                apiVersion: nginx-ha.io/v1alpha1
                kind: NodeHaConfig
                metadata: {"{"}name: {ObjectName ?? "lb1"}{"}"}
                spec:
                {Indent(Spec)}
                """,
            _ => $"""
                apiVersion: nginx-ha.io/v1alpha1
                kind: {Kind}
                metadata: {"{"}name: {ObjectName ?? "t"}, namespace: default{"}"}
                spec:
                {Indent(Spec)}
                """,
        };

        static string Indent(string text) => string.Join("\n", text.Split('\n').Select(line => "  " + line));
    }

    const string Group = "VirtualIpGroup";
    const string Pool = "NginxBackendPool";
    const string Node = "NodeHaConfig";
    const string Servers = "backends: {servers: [{address: 198.18.0.21, port: 8080}]}";

    static string Instance(string extra = "", string vips = "[198.18.0.10/24]") =>
        $"nodeName: lb1\nvrrpInstances:\n- {{name: default/web/0, group: default/web, virtualRouterId: 51, priority: 254, virtualIPs: {vips}{extra}}}";

    public static readonly Case[] All =
    [
        // VirtualIpGroup: addresses
        new("vip-not-an-address", Group, "virtualIPs: [198.18.0.300]", "spec.virtualIPs[0]", "should match"),
        new("vip-loopback", Group, "virtualIPs: [127.0.0.1]", "spec.virtualIPs[0]", "is not a usable IP address"),
        new("vip-unspecified-v6", Group, "virtualIPs: [\"::\"]", "spec.virtualIPs[0]", "is not a usable IP address"),
        new("vip-multicast", Group, "virtualIPs: [224.0.0.18]", "spec.virtualIPs[0]", "is a multicast or the broadcast address", Both: "multicast"),
        new("vip-multicast-v6", Group, "virtualIPs: [\"ff02::12\"]", "spec.virtualIPs[0]", "is a multicast or the broadcast address", Both: "multicast"),
        new("vip-broadcast", Group, "virtualIPs: [255.255.255.255]", "spec.virtualIPs[0]", "is a multicast or the broadcast address", Both: "broadcast"),
        new("vip-prefix-too-long", Group, "virtualIPs: [198.18.0.10/33]", "spec.virtualIPs[0]", "should match"),
        new("no-vips", Group, "virtualIPs: []", "spec.virtualIPs", "should have at least 1 items"),
        new("vips-missing", Group, "mode: ActiveActive", "spec.virtualIPs", "Required value"),
        new("vip-twice", Group, "virtualIPs: [198.18.0.10, 198.18.0.10/24]", "spec.virtualIPs", "lists the same address twice", Both: "twice"),
        new("vip-twice-v6-spelled-differently", Group, "mode: ActiveActive\nvirtualIPs: [\"fd00::10\", \"fd00:0::10/64\"]", "spec.virtualIPs",
            "lists the same address twice", Both: "twice"),
        new("ipv6-with-vrrp-v2", Group, "virtualIPs: [\"fd00::10\"]\nvrrp: {version: 2}", "spec.virtualIPs",
            "IPv6 is not supported by VRRP version 2", Both: "VRRP version 2"),
        new("two-families-in-one-instance", Group, "virtualIPs: [198.18.0.10, \"fd00::10\"]", "spec.virtualIPs",
            "an instance carries one address family", Both: "an ActivePassive group is one VRRP instance and an instance carries one address family"),
        new("mode-unknown", Group, "mode: Primary\nvirtualIPs: [198.18.0.10]", "spec.mode", "Unsupported value: \"Primary\""),
        new("interface-too-long", Group, "virtualIPs: [198.18.0.10]\ninterface: averyveryverylongif", "spec.interface", "Too long"),
        new("interface-with-slash", Group, "virtualIPs: [198.18.0.10]\ninterface: eth0/1", "spec.interface", "should match"),
        new("pool-ref-not-a-name", Group, "virtualIPs: [198.18.0.10]\nbackendPoolRef: Web_Pool", "spec.backendPoolRef", "should match"),

        // VirtualIpGroup: virtual router IDs
        new("vrids-fewer-than-instances", Group, "mode: ActiveActive\nvirtualIPs: [198.18.0.10, 198.18.0.11]\nvirtualRouterIds: [51]",
            "spec.virtualRouterIds", "must give one ID per VRRP instance"),
        new("vrids-more-than-one-active-passive", Group, "virtualIPs: [198.18.0.10, 198.18.0.11]\nvirtualRouterIds: [51, 52]",
            "spec.virtualRouterIds", "must give one ID per VRRP instance"),
        new("vrid-twice", Group, "mode: ActiveActive\nvirtualIPs: [198.18.0.10, 198.18.0.11]\nvirtualRouterIds: [51, 51]",
            "spec.virtualRouterIds[1]", "Duplicate value: 51"),
        new("vrid-out-of-range", Group, "virtualIPs: [198.18.0.10]\nvirtualRouterIds: [256]", "spec.virtualRouterIds[0]",
            "should be less than or equal to 255"),

        // VirtualIpGroup: VRRP settings
        new("vrrp-version-4", Group, "virtualIPs: [198.18.0.10]\nvrrp: {version: 4}", "spec.vrrp.version", "should be less than or equal to 3"),
        new("advert-not-a-duration", Group, "virtualIPs: [198.18.0.10]\nvrrp: {advertisementInterval: fast}", "spec.vrrp.advertisementInterval",
            "should match"),
        new("advert-v2-not-whole-seconds", Group, "virtualIPs: [198.18.0.10]\nvrrp: {version: 2, advertisementInterval: 1500ms}",
            "spec.vrrp.advertisementInterval", "must be whole seconds for VRRP version 2", Both: "must be whole seconds for VRRP version 2"),
        new("advert-v2-too-long", Group, "virtualIPs: [198.18.0.10]\nvrrp: {version: 2, advertisementInterval: 256s}",
            "spec.vrrp.advertisementInterval", "must be 1s..255s for VRRP version 2", Both: "must be 1s..255s for VRRP version 2"),
        new("advert-v3-not-centiseconds", Group, "virtualIPs: [198.18.0.10]\nvrrp: {advertisementInterval: 15ms}",
            "spec.vrrp.advertisementInterval", "must be a multiple of 10ms for VRRP version 3", Both: "must be a multiple of 10ms for VRRP version 3"),
        new("advert-v3-too-long", Group, "virtualIPs: [198.18.0.10]\nvrrp: {advertisementInterval: 41s}",
            "spec.vrrp.advertisementInterval", "must be 10ms..40950ms for VRRP version 3", Both: "must be 10ms..40950ms for VRRP version 3"),
        new("preempt-delay-too-long", Group, "virtualIPs: [198.18.0.10]\nvrrp: {preemptDelay: 1001s}", "spec.vrrp.preemptDelay",
            "must be at most 1000s", Both: "must be at most 1000s"),
        new("auth-secret-with-v3", Group, "virtualIPs: [198.18.0.10]\nvrrp: {authSecretRef: {name: vrrp, key: password}}", "spec.vrrp.authSecretRef",
            "authentication is only supported with VRRP version 2", Both: "authentication is only supported with VRRP version 2"),
        new("auth-file-with-v3", Group, "virtualIPs: [198.18.0.10]\nvrrp: {authPasswordFile: /etc/nginx-ha/vrrp-password}", "spec.vrrp.authPasswordFile",
            "authentication is only supported with VRRP version 2", Both: "authentication is only supported with VRRP version 2"),
        new("auth-secret-and-file", Group,
            "virtualIPs: [198.18.0.10]\nvrrp: {version: 2, authSecretRef: {name: vrrp, key: password}, authPasswordFile: /etc/nginx-ha/vrrp-password}",
            "spec.vrrp.authPasswordFile", "set either authSecretRef or authPasswordFile, not both", Both: "set either authSecretRef or authPasswordFile, not both"),
        new("auth-file-relative", Group, "virtualIPs: [198.18.0.10]\nvrrp: {version: 2, authPasswordFile: vrrp-password}", "spec.vrrp.authPasswordFile",
            "should match"),
        new("auth-secret-key-missing", Group, "virtualIPs: [198.18.0.10]\nvrrp: {version: 2, authSecretRef: {name: vrrp}}", "spec.vrrp.authSecretRef.key",
            "Required value"),

        // NginxBackendPool
        new("pool-without-backends", Pool, "listeners: [{port: 80}]", "spec.backends", "Required value"),
        new("pool-with-empty-backends", Pool, "backends: {servers: []}", "spec.backends", "set servers or service", Both: "set servers or service"),
        new("pool-with-servers-and-service", Pool, "backends: {servers: [{address: 198.18.0.21}], service: {name: web, port: 80}}", "spec.backends",
            "set either servers or service, not both", Both: "set either servers or service, not both"),
        new("tls-without-certificate", Pool, $"listeners: [{{port: 443, tls: {{}}}}]\n{Servers}", "spec.listeners[0].tls",
            "set secretName, or certificateFile and keyFile", Both: "set secretName, or certificateFile and keyFile"),
        new("tls-secret-and-files", Pool, $"listeners: [{{port: 443, tls: {{secretName: web-tls, certificateFile: web.crt, keyFile: web.key}}}}]\n{Servers}",
            "spec.listeners[0].tls", "set either secretName or certificateFile and keyFile, not both",
            Both: "set either secretName or certificateFile and keyFile, not both"),
        new("tls-certificate-without-key", Pool, $"listeners: [{{port: 443, tls: {{certificateFile: web.crt}}}}]\n{Servers}",
            "spec.listeners[0].tls.keyFile", "is required", Both: "is required"),
        new("listener-port-0", Pool, $"listeners: [{{port: 0}}]\n{Servers}", "spec.listeners[0].port", "should be greater than or equal to 1"),
        new("listener-port-twice", Pool, $"listeners: [{{port: 80}}, {{port: 80}}]\n{Servers}", "spec.listeners", "lists the same port twice",
            Both: "twice"),
        new("hash-without-key", Pool, $"loadBalancing: {{method: Hash}}\n{Servers}", "spec.loadBalancing.hashKey", "is required when method is Hash",
            Both: "is required when method is Hash"),
        new("hash-key-without-hash", Pool, $"loadBalancing: {{method: LeastConn, hashKey: $request_uri}}\n{Servers}", "spec.loadBalancing.hashKey",
            "is only used when method is Hash", Both: "is only used when method is Hash"),
        new("weight-0", Pool, "backends: {servers: [{address: 198.18.0.21, weight: 0}]}", "spec.backends.servers[0].weight",
            "should be greater than or equal to 1"),
        new("server-port-too-high", Pool, "backends: {servers: [{address: 198.18.0.21, port: 65536}]}", "spec.backends.servers[0].port",
            "should be less than or equal to 65535"),
        new("server-address-with-space", Pool, "backends: {servers: [{address: \"web 1\"}]}", "spec.backends.servers[0].address", "should match"),
        new("connect-timeout-not-a-duration", Pool, $"proxy: {{connectTimeout: 2 seconds}}\n{Servers}", "spec.proxy.connectTimeout", "should match"),
        new("body-size-not-a-size", Pool, $"clientMaxBodySize: 8 MB\n{Servers}", "spec.clientMaxBodySize", "should match"),
        new("gzip-level-10", Pool, $"gzip: {{compLevel: 10}}\n{Servers}", "spec.gzip.compLevel", "should be less than or equal to 9"),
        new("status-open-to-everyone", Pool, $"status: {{path: /nginx_status}}\n{Servers}", "spec.status",
            "an enabled status endpoint needs basicAuth or an allow list", Both: "an enabled status endpoint needs basicAuth or an allow list"),
        new("basic-auth-secret-and-file", Pool, $"status: {{basicAuth: {{secretName: status-auth, htpasswdFile: htpasswd}}}}\n{Servers}",
            "spec.status.basicAuth", "set exactly one of secretName and htpasswdFile", Both: "set exactly one of secretName and htpasswdFile"),
        new("redirect-unknown", Pool, $"proxy: {{redirect: Sometimes}}\n{Servers}", "spec.proxy.redirect", "Unsupported value: \"Sometimes\""),
        new("worker-processes-zero", Pool, $"worker: {{processes: \"0\"}}\n{Servers}", "spec.worker.processes", "should match"),

        // NodeHaConfig
        new("node-name-differs", Node, Instance().Replace("nodeName: lb1", "nodeName: lb2"), "spec.nodeName", "must equal metadata.name",
            Both: "must equal metadata.name"),
        new("instance-vrid-0", Node, Instance().Replace("virtualRouterId: 51", "virtualRouterId: 0"), "spec.vrrpInstances[0].virtualRouterId",
            "should be greater than or equal to 1"),
        new("instance-without-vips", Node, Instance(vips: "[]"), "spec.vrrpInstances[0].virtualIPs", "should have at least 1 items"),
    ];

    /// <summary>
    /// NodeHaConfigs that break a cross-field rule of their instances or pools: the CRD leaves those rules to the agent
    /// ([RootCelRulesOnly]: the server evaluated them on every write and status report), so the server accepts these and
    /// the C# validators the agent runs refuse them. <see cref="Case.ServerSays"/> is unused here.
    /// </summary>
    public static readonly Case[] AgentOnly =
    [
        new("instance-auth-with-v3", Node, Instance(", authPasswordFile: /etc/nginx-ha/vrrp-password"), "spec.vrrpInstances[0].authPasswordFile",
            "", Both: "authentication is only supported with VRRP version 2"),
        new("instance-two-families", Node, Instance(vips: "[198.18.0.10/24, \"fd00::10/64\"]"), "spec.vrrpInstances[0].virtualIPs",
            "", Both: "an instance carries one address family"),
        new("instance-interval-not-whole-seconds-v2", Node, Instance(", version: 2, advertisementInterval: 1500ms"),
            "spec.vrrpInstances[0].advertisementInterval", "", Both: "whole seconds"),
        new("pool-status-open-to-everyone", Node,
            $"nodeName: lb1\nbackendPools:\n- name: default/web\n  spec: {{status: {{path: /nginx_status}}, {Servers}}}", "spec.backendPools[0].spec.status",
            "", Both: "an enabled status endpoint needs basicAuth or an allow list"),
    ];
}
