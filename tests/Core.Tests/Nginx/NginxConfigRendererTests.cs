using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Nginx;

public sealed class NginxConfigRendererTests
{
    private static NginxBackendPoolSpec Simple(string serverName, params NginxListener[] listeners) => new()
    {
        Listeners = [.. listeners],
        ServerNames = [serverName],
        Backends = new Backends { Servers = [new BackendServer { Address = "198.18.0.10" }] },
    };

    private static IReadOnlyList<NginxStatement> Parse(NginxRenderInput input) =>
        NginxConfigParser.Parse(NginxConfigRenderer.Render(input));

    [Fact]
    public void Output_does_not_depend_on_pool_order()
    {
        var first = ("b", Simple("b.example.org"));
        var second = ("a", Simple("a.example.org"));

        Assert.Equal(
            NginxConfigRenderer.Render(NginxSpecs.Input(first, second)),
            NginxConfigRenderer.Render(NginxSpecs.Input(second, first)));
    }

    [Fact]
    public void Every_line_is_one_directive_block_edge_or_comment_indented_by_depth()
    {
        var text = NginxConfigRenderer.Render(NginxSpecs.Input(("web", NginxSpecs.Full())));
        var depth = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0) continue;
            var content = line.TrimStart(' ');
            if (content == "}") depth--;
            Assert.Equal(new string(' ', 4 * depth), line[..(line.Length - content.Length)]);
            Assert.True(content.EndsWith(';') || content.EndsWith('{') || content == "}" || content.StartsWith("# ", StringComparison.Ordinal), line);
            if (content.EndsWith('{')) depth++;
        }
        Assert.Equal(0, depth);
    }

    [Fact]
    public void Upstream_keepalive_switches_the_proxy_to_http_1_1_without_connection_close()
    {
        var withKeepalive = Simple("www.example.org");
        withKeepalive.UpstreamKeepalive = new UpstreamKeepalive { Connections = 8 };
        var statements = Parse(NginxSpecs.Input(("web", withKeepalive)));
        Assert.Contains(statements, statement => statement is { Name: "keepalive", Arguments: ["8"] });
        Assert.Contains(statements, statement => statement is { Name: "proxy_http_version", Arguments: ["1.1"] });
        Assert.Contains(statements, statement => statement is { Name: "proxy_set_header", Arguments: ["Connection", ""] });

        var without = Parse(NginxSpecs.Input(("web", Simple("www.example.org"))));
        Assert.DoesNotContain(without, statement => statement.Name is "keepalive" or "proxy_http_version");
    }

    [Fact]
    public void Keepalive_follows_the_balancing_method_in_the_upstream()
    {
        var spec = Simple("www.example.org");
        spec.LoadBalancing = new LoadBalancing { Method = LoadBalancingMethod.Hash, HashKey = "$remote_addr" };
        spec.UpstreamKeepalive = new UpstreamKeepalive { Connections = 8 };
        var names = Parse(NginxSpecs.Input(("web", spec))).Select(statement => statement.Name).ToList();

        Assert.True(names.IndexOf("hash") < names.IndexOf("keepalive"));
    }

    [Fact]
    public void Worker_settings_come_from_the_pools_and_conflicts_are_refused()
    {
        var eight = Simple("a.example.org");
        eight.Worker = new WorkerSettings { Processes = "8", Connections = 2048 };
        var alsoEight = Simple("b.example.org");
        alsoEight.Worker = new WorkerSettings { Processes = "8" };
        var statements = Parse(NginxSpecs.Input(("a", eight), ("b", alsoEight)));
        Assert.Contains(statements, statement => statement is { Name: "worker_processes", Arguments: ["8"] });
        Assert.Contains(statements, statement => statement is { Name: "worker_connections", Arguments: ["2048"] });

        var auto = Simple("c.example.org");
        auto.Worker = new WorkerSettings { Processes = "auto" };
        var exception = Assert.Throws<NginxConfigException>(() => NginxConfigRenderer.Render(NginxSpecs.Input(("a", eight), ("c", auto))));
        var error = Assert.Single(exception.Errors);
        Assert.Equal("spec.worker.processes", error.Path);
        Assert.Equal("pools on this node disagree: a sets 8, c sets auto", error.Message);
    }

    [Fact]
    public void Defaults_listen_on_port_80_for_IPv4_and_IPv6()
    {
        var statements = Parse(NginxSpecs.Input(("web", Simple("www.example.org"))));
        var listens = statements.Where(statement => statement.Name == "listen").Select(statement => string.Join(' ', statement.Arguments)).ToList();
        Assert.Equal(["80", "[::]:80", "127.0.0.1:18080"], listens);
        Assert.Contains(statements, statement => statement is { Name: "worker_processes", Arguments: ["auto"] });

        var ipv4Only = NginxSpecs.Input(("web", Simple("www.example.org"))) with { Runtime = NginxSpecs.Runtime() with { ListenIPv6 = false } };
        Assert.DoesNotContain(Parse(ipv4Only), statement => statement is { Name: "listen", Arguments: ["[::]:80"] });
    }

    [Fact]
    public void A_listener_address_binds_only_that_address()
    {
        var spec = Simple("www.example.org", new NginxListener { Port = 8080, Address = "fd00::8" }, new NginxListener { Port = 8081, Address = "198.18.0.8" });
        var listens = Parse(NginxSpecs.Input(("web", spec))).Where(statement => statement.Name == "listen").Select(statement => statement.Arguments[0]);

        Assert.Equal(["[fd00::8]:8080", "198.18.0.8:8081", "127.0.0.1:18080"], listens);
    }

    [Fact]
    public void A_pool_without_servers_answers_503_and_has_no_upstream()
    {
        var spec = Simple("www.example.org");
        spec.Backends = new Backends { Service = new BackendService { Name = "web", Port = 80 } };
        var statements = Parse(NginxSpecs.Input(("web", spec)));

        Assert.DoesNotContain(statements, statement => statement.Name is "upstream" or "proxy_pass");
        Assert.Contains(statements, statement => statement is { Name: "return", Arguments: ["503"] });
    }

    [Fact]
    public void Long_server_names_get_a_larger_hash_bucket()
    {
        var longName = string.Join('.', Enumerable.Repeat(new string('a', 60), 3));
        var statements = Parse(NginxSpecs.Input(("web", Simple(longName))));

        Assert.Contains(statements, statement => statement is { Name: "server_names_hash_bucket_size", Arguments: ["256"] });
    }

    public static TheoryData<string, string, string> Conflicts() => new()
    {
        { "tls and plain", "spec.listeners[0]", "*:443 is plain HTTP here but TLS in pool a" },
        { "two default servers", "spec.listeners[0].defaultServer", "*:443 already has its default server in pool a" },
        { "same server name", "spec.serverNames", "server name a.example.org on *:443 is already served by pool a" },
        { "status port on other pool's listener", "spec.status.port", "port 443 is a listener of pool a" },
        { "health port", "spec.listeners", "port 18080 is the agent's health probe port" },
    };

    [Theory]
    [MemberData(nameof(Conflicts))]
    public void Conflicts_between_pools_are_refused(string conflict, string path, string message)
    {
        var tls = new ListenerTls { SecretName = "a-tls" };
        var first = Simple("a.example.org", new NginxListener { Port = 443, Tls = tls, DefaultServer = true });
        var second = conflict switch
        {
            "tls and plain" => Simple("b.example.org", new NginxListener { Port = 443 }),
            "two default servers" => Simple("b.example.org", new NginxListener { Port = 443, Tls = tls, DefaultServer = true }),
            "same server name" => Simple("a.example.org", new NginxListener { Port = 443, Tls = tls }),
            "status port on other pool's listener" => Simple("b.example.org", new NginxListener { Port = 80 }),
            "health port" => Simple("b.example.org", new NginxListener { Port = 18080 }),
            _ => throw new ArgumentException(conflict),
        };
        if (conflict == "status port on other pool's listener")
            second.Status = new StatusEndpoint { Port = 443, Allow = ["127.0.0.1"] };
        Assert.Empty(first.Validate());
        Assert.Empty(second.Validate());

        var errors = NginxConfigRenderer.Validate(NginxSpecs.Input(("a", first), ("b", second)));

        var error = Assert.Single(errors);
        Assert.Equal(("b", path, message), (error.Object, error.Path, error.Message));
    }

    [Fact]
    public void Pool_errors_carry_the_pool_name()
    {
        var spec = Simple("www.example.org");
        spec.ClientMaxBodySize = "lots";

        var exception = Assert.Throws<NginxConfigException>(() => NginxConfigRenderer.Render(NginxSpecs.Input(("edge/web", spec))));

        Assert.Equal("nginx: edge/web: spec.clientMaxBodySize: \"lots\" is not a size like \"8m\" or \"1g\"", Assert.Single(exception.Errors).ToString());
    }

    [Fact]
    public void Runtime_paths_must_be_absolute_and_safe()
    {
        var input = NginxSpecs.Input(("web", Simple("www.example.org"))) with
        {
            Runtime = NginxSpecs.Runtime() with { PidFile = "nginx.pid", AccessLogDirectory = "/var/log/nginx ha", HealthAddress = "localhost" },
        };

        var paths = NginxConfigRenderer.Validate(input).Select(error => error.Path);

        Assert.Equal(["pidFile", "accessLogDirectory", "healthAddress"], paths);
    }

    [Fact]
    public void Secrets_and_relative_files_resolve_under_the_runtime_directories()
    {
        var runtime = NginxSpecs.Runtime();

        Assert.Equal("/run/nginx-ha/test/secrets/web-tls/tls.crt", runtime.CertificatePath(new ListenerTls { SecretName = "web-tls" }));
        Assert.Equal("/run/nginx-ha/test/conf/tls/web.key", runtime.PrivateKeyPath(new ListenerTls { CertificateFile = "tls/web.crt", KeyFile = "tls/web.key" }));
        Assert.Equal("/etc/nginx/htpasswd", runtime.HtpasswdPath(new BasicAuth { HtpasswdFile = "/etc/nginx/htpasswd" }));
        Assert.Equal("/run/nginx-ha/test/logs/edge_web.access.log", runtime.AccessLogPath("edge_web", new AccessLogSettings()));
    }

    [Fact]
    public void A_secret_the_agent_wrote_is_read_from_its_directory_in_the_pools_namespace_only()
    {
        var tls = new NginxListener { Port = 443, Tls = new ListenerTls { SecretName = "web-tls" } };
        var input = NginxSpecs.Input(("edge/web", Simple("www.example.org", tls)), ("other/web", Simple("www.example.com", tls))) with
        {
            SecretDirectories = new Dictionary<string, string> { ["edge/web-tls"] = "/run/nginx-ha/test/secrets/edge/web-tls/0123abcd" },
        };

        var config = NginxConfigRenderer.Render(input);

        Assert.Contains("ssl_certificate /run/nginx-ha/test/secrets/edge/web-tls/0123abcd/tls.crt;", config);
        Assert.Contains("ssl_certificate_key /run/nginx-ha/test/secrets/edge/web-tls/0123abcd/tls.key;", config);
        // The same Secret name in another namespace is another Secret: not given, so the default place.
        Assert.Contains("ssl_certificate /run/nginx-ha/test/secrets/web-tls/tls.crt;", config);
        Assert.Equal("edge/web-tls", NginxRenderInput.SecretKey("edge/web", "web-tls"));
        Assert.Equal("web-tls", NginxRenderInput.SecretKey("web", "web-tls"));
    }

    [Fact]
    public void A_secret_directory_that_is_not_a_safe_absolute_path_is_refused()
    {
        var input = NginxSpecs.Input(("edge/web", Simple("www.example.org"))) with
        {
            SecretDirectories = new Dictionary<string, string> { ["edge/web-tls"] = "secrets/edge;web-tls" },
        };

        Assert.Contains(NginxConfigRenderer.Validate(input), error => error.Path == "secretDirectories[edge/web-tls]");
    }
}
