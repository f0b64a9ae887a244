using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Cli;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Vrrp.VrrpState;

namespace NginxHa.NodeAgent.Tests.Metrics;

public sealed class StatusCommandTests
{
    readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero));

    string StatusJson(AgentMetrics metrics)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer)) AgentStatus.Write(json, "lb1", metrics);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    [Fact]
    public void The_table_shows_each_instance_with_state_master_and_nginx()
    {
        using var metrics = new AgentMetrics($"NginxHa.NodeAgent.Tests.{Guid.NewGuid():N}");
        var a = new VrrpInstanceMetrics("edge-web-0", "eth0", 51, VrrpVersion.V3, 150, TimeSpan.FromMilliseconds(100), _time);
        var b = new VrrpInstanceMetrics("edge-web-1", "eth0", 52, VrrpVersion.V3, 100, TimeSpan.FromMilliseconds(100), _time);
        metrics.Register(a);
        metrics.Register(b);
        a.StateChanged(Initialize, Backup, "startup");
        a.StateChanged(Backup, Master, "master down timer expired");
        a.AddressesBound(1);
        b.StateChanged(Initialize, Backup, "startup");
        b.AdvertAccepted(IPAddress.Parse("198.18.0.12"), 150, Backup, Backup);
        metrics.Nginx.Attach(() => NginxHealth.Healthy, () => 2);
        metrics.Nginx.Applied("events {}\n", new ConfigApplyResult(ConfigApplyOutcome.Reloaded));
        _time.Advance(TimeSpan.FromMinutes(5));

        var lines = StatusCommand.Render(StatusJson(metrics)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("node lb1", lines[0]);
        Assert.Equal(["INSTANCE", "VRID", "INTERFACE", "STATE", "PRIORITY", "MASTER", "VIPS", "BOUND", "SINCE"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["edge-web-0", "51", "eth0", "MASTER", "150", "this", "node", "1", "5m"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["edge-web-1", "52", "eth0", "BACKUP", "100", "198.18.0.12", "0", "5m"], lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"nginx: healthy, restarts 1, config {NginxHa.NodeAgent.Nginx.NginxConfigHash.Of("events {}\n")}", lines[4]);
    }

    [Fact]
    public async Task No_agent_listening_is_a_clear_error_naming_the_address()
    {
        // A port nobody listens on: bind one, note it, close it.
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await StatusCommand.RunAsync(["--metrics-address", $"127.0.0.1:{port}"], output, error);
        Assert.Equal(1, code);
        Assert.Contains($"no agent answers on http://127.0.0.1:{port}/status", error.ToString());
        Assert.Equal("", output.ToString());
    }

    [Theory]
    [InlineData("--metrics-address", "nonsense", "--metrics-address: \"nonsense\" is not ADDRESS:PORT")]
    [InlineData("--bogus", "x", "--bogus: unknown argument")]
    public async Task Bad_arguments_exit_2_naming_the_argument(string name, string value, string message)
    {
        var error = new StringWriter();
        Assert.Equal(2, await StatusCommand.RunAsync([name, value], new StringWriter(), error));
        Assert.Contains(message, error.ToString());
    }
}
