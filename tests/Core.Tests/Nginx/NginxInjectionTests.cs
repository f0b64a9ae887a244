using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Nginx;

/// <summary>
/// No manifest string may change the structure of nginx.conf: every hostile value on every string
/// field is either refused by validation (naming the field) or rendered as exactly one argument.
/// </summary>
public sealed class NginxInjectionTests
{
    private static readonly string[] HostileValues =
    [
        "a;b", "a}b", "a{b", "a\nb", "a\rb", "a\"b", "a\\b", "a$b", "a#b", "a b", "a'b", "a\u0000b",
        "}", ";", "\"", "\\", "$host", "web\n", "web\r\n", "text/css\n", "198.18.0.1\n", "${host}x", "# comment", "x; deny all", "x\"; return 200 \"y",
    ];

    private sealed record StringField(string Path, string Benign, Action<NginxBackendPoolSpec, string> Set)
    {
        public override string ToString() => Path;
    }

    private static readonly StringField[] Fields =
    [
        new("spec.listeners[0].address", "198.18.0.1", (spec, value) => spec.Listeners[0].Address = value),
        new("spec.listeners[1].tls.secretName", "web-tls", (spec, value) => spec.Listeners[1].Tls!.SecretName = value),
        new("spec.listeners[1].tls.certificateFile", "tls/web.crt", (spec, value) => spec.Listeners[1].Tls = new ListenerTls { CertificateFile = value, KeyFile = "tls/web.key" }),
        new("spec.listeners[1].tls.keyFile", "tls/web.key", (spec, value) => spec.Listeners[1].Tls = new ListenerTls { CertificateFile = "tls/web.crt", KeyFile = value }),
        new("spec.serverNames[0]", "www.example.org", (spec, value) => spec.ServerNames[0] = value),
        new("spec.loadBalancing.hashKey", "$request_uri", (spec, value) =>
        {
            spec.LoadBalancing = new LoadBalancing { Method = LoadBalancingMethod.Hash, HashKey = value };
            spec.Backends.Servers[1].Backup = false;
        }),
        new("spec.backends.servers[0].address", "backend.example.org", (spec, value) => spec.Backends.Servers[0].Address = value),
        new("spec.backends.servers[0].failTimeout", "10s", (spec, value) => spec.Backends.Servers[0].FailTimeout = value),
        new("spec.backends.service.name", "web", (spec, value) => spec.Backends.Service!.Name = value),
        new("spec.upstreamKeepalive.timeout", "60s", (spec, value) => spec.UpstreamKeepalive!.Timeout = value),
        new("spec.proxy.headers.extra", "X-Benign", (spec, value) => spec.Proxy.Headers.Extra = new() { [value] = "v" }),
        new("spec.proxy.headers.extra[\"X-Edge\"]", "benign", (spec, value) => spec.Proxy.Headers.Extra["X-Edge"] = value),
        new("spec.proxy.connectTimeout", "5s", (spec, value) => spec.Proxy.ConnectTimeout = value),
        new("spec.proxy.sendTimeout", "5s", (spec, value) => spec.Proxy.SendTimeout = value),
        new("spec.proxy.readTimeout", "5s", (spec, value) => spec.Proxy.ReadTimeout = value),
        new("spec.proxy.bufferSize", "16k", (spec, value) => spec.Proxy.BufferSize = value),
        new("spec.proxy.buffers.size", "16k", (spec, value) => spec.Proxy.Buffers!.Size = value),
        new("spec.proxy.busyBuffersSize", "32k", (spec, value) => spec.Proxy.BusyBuffersSize = value),
        new("spec.clientMaxBodySize", "8m", (spec, value) => spec.ClientMaxBodySize = value),
        new("spec.clientHeaderBufferSize", "4k", (spec, value) => spec.ClientHeaderBufferSize = value),
        new("spec.largeClientHeaderBuffers.size", "16k", (spec, value) => spec.LargeClientHeaderBuffers!.Size = value),
        new("spec.clientKeepaliveTimeout", "60s", (spec, value) => spec.ClientKeepaliveTimeout = value),
        new("spec.gzip.minLength", "1k", (spec, value) => spec.Gzip!.MinLength = value),
        new("spec.gzip.types[0]", "text/css", (spec, value) => spec.Gzip!.Types[0] = value),
        new("spec.gzip.buffers.size", "16k", (spec, value) => spec.Gzip!.Buffers!.Size = value),
        new("spec.gzip.httpVersion", "1.1", (spec, value) => spec.Gzip!.HttpVersion = value),
        new("spec.accessLog.format", "$remote_addr", (spec, value) => spec.AccessLog.Format = value),
        new("spec.accessLog.path", "web.log", (spec, value) => spec.AccessLog.Path = value),
        new("spec.status.path", "/nginx_status", (spec, value) => spec.Status!.Path = value),
        new("spec.status.basicAuth.secretName", "status-auth", (spec, value) => spec.Status!.BasicAuth!.SecretName = value),
        new("spec.status.basicAuth.htpasswdFile", "htpasswd", (spec, value) => spec.Status!.BasicAuth = new BasicAuth { HtpasswdFile = value }),
        new("spec.status.basicAuth.realm", "Status", (spec, value) => spec.Status!.BasicAuth!.Realm = value),
        new("spec.status.allow[0]", "198.18.0.0/15", (spec, value) => spec.Status!.Allow[0] = value),
        new("spec.worker.processes", "4", (spec, value) => spec.Worker!.Processes = value),
    ];

    public static TheoryData<string> FieldPaths()
    {
        var paths = new TheoryData<string>();
        foreach (var field in Fields) paths.Add(field.Path);
        return paths;
    }

    [Theory]
    [MemberData(nameof(FieldPaths))]
    public void Hostile_values_are_refused_or_stay_one_argument(string fieldPath)
    {
        var field = Fields.Single(candidate => candidate.Path == fieldPath);
        var benignSpec = NginxSpecs.Full();
        field.Set(benignSpec, field.Benign);
        Assert.Empty(benignSpec.Validate());
        var benignStatements = NginxConfigParser.Parse(NginxConfigRenderer.Render(NginxSpecs.Input(("web", benignSpec))));

        string[] appended = [field.Benign + "\n", field.Benign + "\r\n", field.Benign + ";", field.Benign + " x", field.Benign + "}", field.Benign + "\"", field.Benign + "$x"];
        foreach (var hostile in HostileValues.Concat(appended))
        {
            var spec = NginxSpecs.Full();
            field.Set(spec, hostile);
            var errors = spec.Validate().ToList();
            if (errors.Count > 0)
            {
                Assert.True(errors.Any(error => error.Path.StartsWith(field.Path, StringComparison.Ordinal)),
                    $"{field.Path} = {hostile}: errors name other fields: {string.Join("; ", errors)}");
                continue;
            }

            var statements = NginxConfigParser.Parse(NginxConfigRenderer.Render(NginxSpecs.Input(("web", spec))));
            Assert.Equal(benignStatements.Select(Shape), statements.Select(Shape));
            Assert.Contains(statements, statement => statement.Arguments.Contains(hostile));
        }
    }

    [Fact]
    public void Free_text_fields_accept_hostile_characters_as_one_quoted_argument()
    {
        const string headerValue = "x\"; return 200 \"owned\"; } server { # \\ ;";
        const string logFormat = "$remote_addr \"$request\" {a;b} # $status \\";
        var spec = NginxSpecs.Full();
        spec.Proxy.Headers.Extra["X-Edge"] = headerValue;
        spec.AccessLog.Format = logFormat;
        spec.Status!.BasicAuth!.Realm = "Status; {area} #1";

        Assert.Empty(spec.Validate());
        var statements = NginxConfigParser.Parse(NginxConfigRenderer.Render(NginxSpecs.Input(("web", spec))));

        Assert.Contains(statements, statement => statement is { Name: "proxy_set_header", Arguments: ["X-Edge", headerValue] });
        Assert.Contains(statements, statement => statement is { Name: "log_format", Arguments: ["web", logFormat] });
        Assert.Contains(statements, statement => statement is { Name: "auth_basic", Arguments: ["Status; {area} #1"] });
        Assert.DoesNotContain(statements, statement => statement.Name == "return" && statement.Arguments.Contains("owned"));
    }

    [Theory]
    [InlineData("web;x")]
    [InlineData("web}")]
    [InlineData("Web")]
    [InlineData("a/b/c")]
    [InlineData("web\n")]
    [InlineData("")]
    public void Hostile_pool_names_are_refused(string poolName)
    {
        var errors = NginxConfigRenderer.Validate(NginxSpecs.Input((poolName, NginxSpecs.Full())));

        var error = Assert.Single(errors);
        Assert.Equal(poolName, error.Object);
        Assert.Contains("pool name", error.Message);
        Assert.Throws<NginxConfigException>(() => NginxConfigRenderer.Render(NginxSpecs.Input((poolName, NginxSpecs.Full()))));
    }

    [Theory]
    [InlineData("a\"b", "\"a\\\"b\"")]
    [InlineData("a\\b", "\"a\\\\b\"")]
    [InlineData("a;b {c} #d", "\"a;b {c} #d\"")]
    public void Quote_escapes_backslash_and_double_quote(string value, string expected) =>
        Assert.Equal(expected, NginxSyntax.Quote(value));

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\rb")]
    [InlineData("a\tb")]
    [InlineData("a\u0000b")]
    public void Quote_refuses_control_characters(string value) =>
        Assert.Throws<ArgumentException>(() => NginxSyntax.Quote(value));

    [Theory]
    [InlineData("$host")]
    [InlineData("a$")]
    public void Literal_refuses_variables(string value) =>
        Assert.Throws<ArgumentException>(() => NginxSyntax.Literal(value));

    [Theory]
    [InlineData("web.example.org", "web.example.org")]
    [InlineData("[fd00::1]:80", "[fd00::1]:80")]
    [InlineData("two words", "\"two words\"")]
    [InlineData("a;b", "\"a;b\"")]
    public void Literal_is_bare_only_for_plain_tokens(string value, string expected) =>
        Assert.Equal(expected, NginxSyntax.Literal(value));

    [Theory]
    [InlineData("$", "position 0")]
    [InlineData("$1", "position 0")]
    [InlineData("ok $ok $", "position 7")]
    [InlineData("${unclosed", "position 0")]
    [InlineData("a\nb", "control character")]
    public void Templates_allow_only_variable_references(string template, string reason)
    {
        Assert.False(NginxSyntax.TryCheckVariableTemplate(template, out var message));
        Assert.Contains(reason, message);
    }

    private static string Shape(NginxStatement statement) => $"{statement.Name}/{statement.Arguments.Count}";
}
