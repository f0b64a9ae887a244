using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;

namespace NginxHa.Integration.Tests.Nginx;

/// <summary>
/// Free-text manifest values full of nginx syntax (; { } # " \) reach the wire exactly as written:
/// a real nginx, bound to 127.0.0.1 only, forwards the header, answers with the realm and logs the format.
/// </summary>
public sealed class HostileValuesThroughNginxTests
{
    private const string HeaderValue = "x\"; return 200 \"owned\"; } server { # \\ ;";
    private const string Realm = "Status; {area} #1";
    private const string LogFormat = "$remote_addr \"$request\" {a;b} # $status \\";
    private static readonly TimeSpan StartupLimit = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Hostile_free_text_values_arrive_as_single_values()
    {
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var listenPort = FreeLoopbackPort();
        var healthPort = FreeLoopbackPort();
        var spec = new NginxBackendPoolSpec
        {
            Listeners = [new NginxListener { Port = listenPort, Address = "127.0.0.1" }],
            ServerNames = ["hostile.test"],
            Backends = new Backends { Servers = [new BackendServer { Address = "127.0.0.1", Port = ((IPEndPoint)backend.LocalEndpoint).Port }] },
            Proxy = new ProxySettings { Headers = new ProxyHeaders { Extra = new() { ["X-Hostile"] = HeaderValue } } },
            AccessLog = new AccessLogSettings { Format = LogFormat, Path = "hostile.log" },
            Status = new StatusEndpoint { Path = "/nginx_status", BasicAuth = new BasicAuth { HtpasswdFile = "htpasswd", Realm = Realm } },
        };
        Assert.Empty(spec.Validate());

        using var sandbox = new NginxSandbox();
        var runtime = NginxRuntimeOptions.UnderDirectory(sandbox.Directory.FullName, healthPort) with { ListenIPv6 = false };
        sandbox.WriteConfig(new NginxRenderInput([("hostile", spec)], runtime));
        var (exitCode, output) = sandbox.TestConfig();
        Assert.True(exitCode == 0, output);

        using var nginx = sandbox.StartNginx();
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            await WaitUntilHealthy(client, healthPort, nginx);

            var backendRequest = AnswerOneRequest(backend);
            using var proxied = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{listenPort}/");
            proxied.Headers.Host = "hostile.test";
            using var proxiedResponse = await client.SendAsync(proxied);
            Assert.Equal(HttpStatusCode.OK, proxiedResponse.StatusCode);
            var headerLines = (await backendRequest).Split("\r\n");
            Assert.Contains($"X-Hostile: {HeaderValue}", headerLines);

            using var status = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{listenPort}/nginx_status");
            status.Headers.Host = "hostile.test";
            using var statusResponse = await client.SendAsync(status);
            Assert.Equal(HttpStatusCode.Unauthorized, statusResponse.StatusCode);
            Assert.True(statusResponse.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var challenge));
            Assert.Equal($"Basic realm=\"{Realm}\"", Assert.Single(challenge));

            var logLines = File.ReadAllLines(Path.Combine(runtime.AccessLogDirectory, "hostile.log"));
            Assert.Contains("127.0.0.1 \"GET / HTTP/1.1\" {a;b} # 200 \\", logLines);
        }
        finally
        {
            // Our own child, ended by its PID together with its workers.
            nginx.Kill(entireProcessTree: true);
            await nginx.WaitForExitAsync();
        }
    }

    private static async Task WaitUntilHealthy(HttpClient client, int healthPort, Process nginx)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartupLimit)
        {
            Assert.False(nginx.HasExited, $"nginx exited with {(nginx.HasExited ? nginx.ExitCode : 0)} during startup");
            try
            {
                using var response = await client.GetAsync($"http://127.0.0.1:{healthPort}/healthz");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(50);
        }
        Assert.Fail($"nginx health endpoint did not answer within {StartupLimit}");
    }

    /// <summary>Reads one request head from the backend socket, answers 200 and returns the head.</summary>
    private static async Task<string> AnswerOneRequest(TcpListener backend)
    {
        using var connection = await backend.AcceptTcpClientAsync();
        var stream = connection.GetStream();
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0) break;
            head.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }
        await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray());
        return head.ToString();
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
