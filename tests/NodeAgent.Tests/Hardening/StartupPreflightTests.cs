using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Hardening;

/// <summary>Issue 12, section 6: the host checks name the cause and the fix in one line.</summary>
public sealed class StartupPreflightTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nginx-ha-preflight-");

    string Status(string capEff)
    {
        var path = Path.Combine(_dir.FullName, "status");
        File.WriteAllText(path, $"Name:\tnginx-ha-agent\nCapInh:\t0000000000000000\nCapPrm:\t{capEff}\nCapEff:\t{capEff}\nCapBnd:\t000001ffffffffff\n");
        return path;
    }

    [Fact]
    public void Root_with_every_capability_passes() => Assert.Empty(StartupPreflight.Capabilities(Status("000001ffffffffff")));

    [Fact]
    public void Missing_net_raw_is_named_with_the_fix()
    {
        // Everything but bit 13.
        var line = Assert.Single(StartupPreflight.Capabilities(Status("000001ffffffdfff")));
        Assert.Equal("missing capability CAP_NET_RAW (needed for the raw VRRP socket and gratuitous ARP): run as root, or grant it " +
                     "(systemd: AmbientCapabilities=CAP_NET_RAW; container: capabilities add NET_RAW)", line);
    }

    [Fact]
    public void Missing_net_admin_is_named() =>
        Assert.Contains("CAP_NET_ADMIN", Assert.Single(StartupPreflight.Capabilities(Status("000001ffffffefff"))));

    [Fact]
    public void A_missing_nginx_binary_names_the_path_and_the_option()
    {
        var path = Path.Combine(_dir.FullName, "no-nginx");
        Assert.Equal($"nginx binary {path} not found: install nginx (apt-get install nginx) or give its path with --nginx", StartupPreflight.NginxBinary(path));
        File.WriteAllText(path, "");
        Assert.Equal($"nginx binary {path} is not executable: chmod +x it or give another path with --nginx", StartupPreflight.NginxBinary(path));
    }

    [Fact]
    public void A_state_dir_that_cannot_be_created_is_named_with_the_option()
    {
        var file = Path.Combine(_dir.FullName, "a-file");
        File.WriteAllText(file, "");
        var line = StartupPreflight.WritableDirectory(Path.Combine(file, "state"), "--state-dir");
        Assert.StartsWith($"state directory {file}/state is not writable (", line);
        Assert.EndsWith("): give a writable directory with --state-dir (default /run/nginx-ha/NODE)", line);
        Assert.Null(StartupPreflight.WritableDirectory(Path.Combine(_dir.FullName, "state"), "--state-dir"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir.FullName, "state"))); // the trial file is gone again
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
