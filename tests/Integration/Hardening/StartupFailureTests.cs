using System.Net;
using System.Net.Sockets;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Hardening;

/// <summary>
/// Issue 12, section 6 (and section 0, item 9): every environment failure at startup ends in one line naming the cause
/// and the fix, exit 1, with nothing left bound (no VIP, no nginx, no port), for both <c>run</c> and <c>vrrp</c>.
/// </summary>
[Collection(HardeningCollection.Name)]
public sealed class StartupFailureTests : IDisposable
{
    static readonly TimeSpan Exit = TimeSpan.FromSeconds(30);
    readonly SingleNodeLab _lab = new("hds");

    public void Dispose() => _lab.Dispose();

    /// <summary>What the agent printed apart from its timestamped log lines (the metrics server's start, warnings).</summary>
    static string[] Said(AgentProcess agent) =>
        agent.Process.Lines.Where(l => l.Length > 0 && !System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d{4}-\d\d-\d\dT")).ToArray();

    /// <summary>The run exits 1 with exactly one line, which starts with <paramref name="start"/>; nothing is left behind.</summary>
    async Task<string> AssertFailsWithOneLine(AgentProcess agent, string start, string? state = null)
    {
        Assert.Equal(1, await agent.Process.WaitForExitAsync(Exit));
        var line = Assert.Single(Said(agent));
        Assert.StartsWith(start, line);
        AssertNothingBound(state);
        return line;
    }

    void AssertNothingBound(string? state)
    {
        Assert.False(_lab.HoldsVip(), "a VIP was left on lb1");
        if (state is null) return;
        Assert.Null(_lab.NginxMaster(state));
        Assert.False(File.Exists(Path.Combine(state, "nginx", "conf", "nginx.conf")), "nginx.conf was rendered: something started");
        Assert.True(_lab.PortFreeOnLb1(SingleNodeLab.ListenPort), "port 80 was left bound");
        Assert.True(_lab.PortFreeOnLb1(SingleNodeLab.HealthPort), "the health port was left bound");
    }

    static string[] WithoutNetRaw => [RequiredTool.Locate("setpriv", "util-linux"), "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--"];

    [Fact]
    public async Task Run_without_cap_net_raw_names_the_capability_and_the_fix()
    {
        var line = await AssertFailsWithOneLine(_lab.StartRun(wrapper: WithoutNetRaw), "nginx-ha-agent: missing capability CAP_NET_RAW", _lab.StateDirectory());
        Assert.Contains("run as root, or grant it", line);
    }

    [Fact]
    public async Task Vrrp_without_cap_net_raw_names_the_capability_and_the_fix()
    {
        var line = await AssertFailsWithOneLine(_lab.StartVrrp(wrapper: WithoutNetRaw), "nginx-ha-agent: missing capability CAP_NET_RAW");
        Assert.Contains("AmbientCapabilities=CAP_NET_RAW", line);
    }

    [Fact]
    public async Task Run_on_an_unknown_interface_names_it_and_the_interfaces_there_are()
    {
        _lab.WriteSite(SingleNodeLab.Site(interfaceName: "nosuch0"));
        var line = await AssertFailsWithOneLine(_lab.StartRun(), "nginx-ha-agent: edge/web", _lab.StateDirectory());
        Assert.Contains("\"nosuch0\"", line);
        Assert.EndsWith("name one of this host's interfaces (eth0, lo)", line);
    }

    [Fact]
    public async Task Vrrp_on_an_unknown_interface_names_it_and_the_interfaces_there_are()
    {
        var line = await AssertFailsWithOneLine(_lab.StartVrrp("nosuch0"), "nginx-ha-agent: --interface: ");
        Assert.Contains("\"nosuch0\"", line);
        Assert.EndsWith("name one of this host's interfaces (eth0, lo)", line);
    }

    [Fact]
    public async Task Run_without_the_nginx_binary_names_the_path_and_the_option()
    {
        var missing = Path.Combine(_lab.WorkDirectory, "no-such-nginx");
        await AssertFailsWithOneLine(_lab.StartRun(extra: ["--nginx", missing]),
            $"nginx-ha-agent: nginx binary {missing} not found: install nginx (apt-get install nginx) or give its path with --nginx", _lab.StateDirectory());
    }

    [Theory]
    [InlineData(SingleNodeLab.HealthPort, "--health-port")]
    [InlineData(SingleNodeLab.ListenPort, "a listener of NginxBackendPool edge/web")]
    public async Task Run_with_a_port_in_use_names_the_port_and_what_needs_it(int port, string usedFor)
    {
        using var blocker = _lab.Lb1.Run(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(port == SingleNodeLab.HealthPort ? IPAddress.Loopback : IPAddress.Any, port));
            socket.Listen(1);
            return socket;
        });
        var agent = _lab.StartRun();
        Assert.Equal(1, await agent.Process.WaitForExitAsync(Exit));
        var line = Assert.Single(Said(agent));
        Assert.StartsWith($"nginx-ha-agent: port {port} ({usedFor}", line);
        Assert.Contains("is in use by another process", line);
        Assert.False(_lab.HoldsVip());
        Assert.Null(_lab.NginxMaster(_lab.StateDirectory()));
    }

    [Fact]
    public async Task Run_on_a_read_only_state_dir_names_it_and_the_option()
    {
        var state = _lab.StateDirectory("readonly");
        _lab.MountTmpfs(state, "1m", readOnly: true);
        var line = await AssertFailsWithOneLine(_lab.StartRun(state: state), $"nginx-ha-agent: state directory {state} is not writable (", state);
        Assert.Contains("Read-only file system", line);
        Assert.EndsWith("give a writable directory with --state-dir (default /run/nginx-ha/NODE)", line);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("empty")]
    [InlineData("world-readable")]
    public async Task Run_with_a_bad_auth_password_file_says_file_line_before_nginx_starts(string problem)
    {
        var passwordFile = Path.Combine(_lab.WorkDirectory, "vrrp-password");
        if (problem != "missing")
        {
            File.WriteAllText(passwordFile, problem == "empty" ? "" : "S3cret");
            File.SetUnixFileMode(passwordFile, problem == "empty" ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        }
        _lab.WriteSite(SingleNodeLab.Site(vrrp: $"{{version: 2, advertisementInterval: 1s, authPasswordFile: {passwordFile}}}"));
        var agent = _lab.StartRun();

        Assert.Equal(1, await agent.Process.WaitForExitAsync(Exit));
        Assert.StartsWith($"{_lab.SitePath}:22: VirtualIpGroup edge/web: spec.vrrp.authPasswordFile: \"{passwordFile}\" ", Said(agent)[0]);
        Assert.DoesNotContain(agent.Process.Lines, l => l.Contains("S3cret", StringComparison.Ordinal));
        AssertNothingBound(_lab.StateDirectory());
    }

    [Fact]
    public async Task Run_and_vrrp_on_an_interface_without_carrier_say_so_in_one_line()
    {
        // The bridge side of lb1's veth goes down: lb1's eth0 stays up but loses its carrier.
        Command.Run("ip", "-n", _lab.Lb1.Lab.BridgeNamespace, "link", "set", "p0", "down");
        try
        {
            foreach (var agent in new[] { _lab.StartVrrp(), _lab.StartRun() })
            {
                await agent.Process.WaitForLineAsync(l => l.Contains("warning: ", StringComparison.Ordinal)
                    && l.Contains("interface \"eth0\" has no carrier (state down)", StringComparison.Ordinal)
                    && l.EndsWith("(check the cable or switch port, or `ip link set eth0 up`)", StringComparison.Ordinal), Exit);
                Assert.Equal(0, await agent.StopAsync());
            }
        }
        finally
        {
            Command.Run("ip", "-n", _lab.Lb1.Lab.BridgeNamespace, "link", "set", "p0", "up");
        }
    }
}
