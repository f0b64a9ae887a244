using System.Net;
using NginxHa.NodeAgent.Cli;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Standalone;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Hardening;

/// <summary>
/// Issue 12, section 0, items 1, 3, 4 and 9: every input is checked while the config loads (so before nginx starts at
/// startup, and before anything changes on reload), with file:line; the standalone loader never throws and never
/// holds up a stop.
/// </summary>
public sealed class ConfigInputPreflightTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nginx-ha-inputs-");

    static readonly ConfiguredAddress[] Host = [new("eth0", IPAddress.Parse("198.18.0.11"), 24)];

    string Site(string passwordFile) => $"""
        apiVersion: v1
        kind: Node
        metadata: {"{"}name: lb1, labels: {"{"}role: edge{"}"}{"}"}
        status: {"{"}addresses: [{"{"}type: InternalIP, address: 198.18.0.11{"}"}]{"}"}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: NginxBackendPool
        metadata: {"{"}name: web, namespace: edge{"}"}
        spec:
          backends: {"{"}servers: [{"{"}address: 198.18.0.21, port: 8080{"}"}]{"}"}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {"{"}name: web, namespace: edge{"}"}
        spec:
          virtualIPs: [198.18.0.201/24]
          nodeSelector: {"{"}matchLabels: {"{"}role: edge{"}"}{"}"}
          vrrp:
            version: 2
            authPasswordFile: {passwordFile}
          backendPoolRef: web
        """;

    string Write(string name, string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    string[] Problems(string passwordFile)
    {
        var site = Write("site.yaml", Site(passwordFile));
        var result = Load(site);
        Assert.Null(result.Desired);
        return result.Problems.ToArray();
    }

    static (NodeConfigUpdate? Desired, IReadOnlyList<string> Problems) Load(string site, Action<string>? log = null) =>
        new FileConfigSource([site], "lb1", TimeProvider.System, log ?? (_ => { })).Load("test") switch
        {
            NodeConfigUpdate update => (update, []),
            NodeConfigRejected rejected => (null, rejected.Problems),
            var other => throw new InvalidOperationException($"unexpected {other}"),
        };

    string At => $"{Path.Combine(_dir.FullName, "site.yaml")}:20: VirtualIpGroup edge/web: spec.vrrp.authPasswordFile: ";

    [Fact]
    public void A_missing_password_file_is_reported_with_file_line()
    {
        var missing = Path.Combine(_dir.FullName, "missing");
        var line = Assert.Single(Problems(missing));
        Assert.StartsWith($"{At}\"{missing}\" cannot be read: ", line);
    }

    [Fact]
    public void An_empty_password_file_is_reported_with_file_line() =>
        Assert.Equal([$"{At}\"{Path.Combine(_dir.FullName, "empty")}\" is empty"], Problems(Write("empty", "")));

    [Fact]
    public void A_world_readable_password_file_is_reported_and_its_content_never_shown()
    {
        var file = Write("open", "S3cretPw", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var line = Assert.Single(Problems(file));
        Assert.Equal($"{At}\"{file}\" is readable by everyone; chmod 600 it", line);
        Assert.DoesNotContain("S3cret", line);
    }

    [Fact]
    public void A_good_password_file_loads()
    {
        var site = Write("site.yaml", Site(Write("good", "S3cret")));
        var result = Load(site);
        Assert.Empty(result.Problems);
        Assert.NotNull(result.Desired);
    }

    [Fact]
    public void An_exception_anywhere_in_the_load_becomes_a_problem_line()
    {
        // A Node with a namespace makes a warning, and this log throws on it: an exception from inside the load.
        var site = Write("site.yaml", Site(Write("good", "S3cret")).Replace("name: lb1, labels", "name: lb1, namespace: x, labels"));
        var result = Load(site, _ => throw new InvalidOperationException("host addresses\nunreadable"));
        Assert.Null(result.Desired);
        Assert.Equal([$"{site}: the config could not be loaded (InvalidOperationException: host addresses\\nunreadable)"], result.Problems);
    }

    [Fact]
    public async Task A_stop_ends_the_wait_for_a_load_that_hangs()
    {
        // A FIFO with no writer blocks the reader for as long as nobody opens it: a loader stuck in I/O.
        var fifo = Path.Combine(_dir.FullName, "stuck.yaml");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        using var stop = new CancellationTokenSource();
        var load = new FileConfigSource([fifo], "lb1", TimeProvider.System, _ => { }).LoadAsync("test", stop.Token);
        Assert.False(load.IsCompleted);
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => load.WaitAsync(TimeSpan.FromSeconds(5)));
        // Unblock the abandoned reader so the test leaves no stuck thread behind.
        await File.WriteAllTextAsync(fifo, "");
    }

    [Fact]
    public void More_than_255_vips_in_one_instance_are_refused_for_the_speaker()
    {
        var instance = new Core.Resources.VrrpInstanceConfig
        {
            Name = "edge/web/0", Interface = "eth0", VirtualRouterId = 51, Priority = 100,
            VirtualIPs = Enumerable.Range(0, 256).Select(i => $"198.18.{1 + i / 200}.{1 + i % 200}/16").ToList(),
        };
        Assert.Null(InstancePlan.From(instance, ReadOnlyMemory<byte>.Empty, Host, out var problem));
        Assert.Equal("edge/web/0: virtualIPs: 256 addresses, but one VRRP advert carries at most 255", problem);
    }

    [Theory]
    [InlineData("--vip 198.18.0.0/24", "--vip: \"198.18.0.0/24\" is the network address of 198.18.0.0/24, not a host address")]
    [InlineData("--vip 198.18.0.255/24", "--vip: \"198.18.0.255/24\" is the broadcast address of 198.18.0.0/24, not a host address")]
    public void The_vrrp_command_refuses_network_and_broadcast_vips(string vip, string expected)
    {
        var ex = Assert.Throws<UsageException>(() => VrrpCommandLine.Parse($"--interface eth0 --vrid 51 --priority 100 {vip}".Split(' ')));
        Assert.Equal(expected, ex.Message);
    }

    [Fact]
    public void The_vrrp_command_refuses_more_than_255_vips()
    {
        var args = new List<string> { "--interface", "eth0", "--vrid", "51", "--priority", "100" };
        foreach (var i in Enumerable.Range(0, 256)) args.AddRange(["--vip", $"198.18.{1 + i / 200}.{1 + i % 200}/16"]);
        var ex = Assert.Throws<UsageException>(() => VrrpCommandLine.Parse(args));
        Assert.Equal("--vip: 256 addresses given, but one VRRP advert carries at most 255", ex.Message);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
