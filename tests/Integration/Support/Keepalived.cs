using System.Globalization;
using System.Text;

namespace NginxHa.Integration.Tests.Support;

/// <summary>Settings of one keepalived VRRP instance, rendered into a keepalived.conf.</summary>
public sealed record KeepalivedInstance(
    string Interface,
    int VirtualRouterId,
    int Priority,
    IReadOnlyList<string> VirtualAddresses,
    int Version = 3,
    TimeSpan? AdvertInterval = null,
    string? AuthPass = null,
    bool Preempt = true,
    IReadOnlyList<string>? UnicastPeers = null,
    string? UnicastSource = null)
{
    public string Render()
    {
        var interval = (AdvertInterval ?? TimeSpan.FromSeconds(1)).TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture);
        var b = new StringBuilder();
        b.AppendLine("global_defs {");
        b.AppendLine($"    router_id ka_{VirtualRouterId}_{Priority}");
        b.AppendLine("    vrrp_garp_master_delay 0");
        b.AppendLine("}");
        b.AppendLine("vrrp_instance VI_1 {");
        b.AppendLine("    state BACKUP");
        b.AppendLine($"    interface {Interface}");
        b.AppendLine($"    virtual_router_id {VirtualRouterId}");
        b.AppendLine($"    priority {Priority}");
        b.AppendLine($"    advert_int {interval}");
        b.AppendLine($"    version {Version}");
        if (!Preempt) b.AppendLine("    nopreempt");
        if (AuthPass is not null)
        {
            b.AppendLine("    authentication {");
            b.AppendLine("        auth_type PASS");
            b.AppendLine($"        auth_pass {AuthPass}");
            b.AppendLine("    }");
        }
        if (UnicastPeers is { Count: > 0 })
        {
            if (UnicastSource is not null) b.AppendLine($"    unicast_src_ip {UnicastSource}");
            b.AppendLine("    unicast_peer {");
            foreach (var p in UnicastPeers) b.AppendLine($"        {p}");
            b.AppendLine("    }");
        }
        b.AppendLine("    virtual_ipaddress {");
        foreach (var v in VirtualAddresses) b.AppendLine($"        {v}");
        b.AppendLine("    }");
        b.AppendLine("}");
        return b.ToString();
    }
}

/// <summary>
/// Debian's keepalived (VRRP subsystem only) run in the foreground inside a namespace, with its own pid files.
/// keepalived forks a VRRP child: killing the parent is a clean stop (the child sends priority 0), so a crash
/// is simulated by stopping the parent, killing the child, then killing the parent (see PLATFORM-NOTES.md).
/// </summary>
public sealed class KeepalivedProcess : IDisposable
{
    readonly string _dir;
    readonly ChildProcess _process;

    public KeepalivedProcess(string netns, KeepalivedInstance instance, string name)
    {
        _dir = Directory.CreateTempSubdirectory("nginx-ha-keepalived-").FullName;
        var conf = Path.Combine(_dir, "keepalived.conf");
        File.WriteAllText(conf, instance.Render());
        File.SetUnixFileMode(conf, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _process = new ChildProcess("ip", ["netns", "exec", netns, "keepalived", "--vrrp", "--dont-fork", "--log-console",
            "--log-detail", "--use-file", conf, "--pid", Path.Combine(_dir, "keepalived.pid"),
            "--vrrp_pid", Path.Combine(_dir, "vrrp.pid")], name);
    }

    public ChildProcess Process => _process;

    public Task WaitForMasterAsync(TimeSpan timeout, DateTimeOffset? after = null) =>
        _process.WaitForLineAsync(l => l.Contains("Entering MASTER STATE"), timeout, after);

    public Task WaitForBackupAsync(TimeSpan timeout, DateTimeOffset? after = null) =>
        _process.WaitForLineAsync(l => l.Contains("Entering BACKUP STATE"), timeout, after);

    public int VrrpChildPid()
    {
        var path = Path.Combine(_dir, "vrrp.pid");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), out int pid)) return pid;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"{_process.Name}: no VRRP child pid file; output:\n{_process.Output}");
    }

    /// <summary>A crash: no priority-0 advert, the VIP stays bound (as on a real box that hangs).</summary>
    public void Crash()
    {
        int child = VrrpChildPid();
        _process.Signal(ChildProcess.SIGSTOP);
        ChildProcess.SignalPid(child, ChildProcess.SIGKILL);
        _process.Signal(ChildProcess.SIGKILL);
    }

    /// <summary>A clean stop: the VRRP child sends priority 0 and removes the VIP.</summary>
    public Task<int> StopAsync()
    {
        _process.Signal(ChildProcess.SIGTERM);
        return _process.WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try
            {
                Crash();
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                // The child is already gone.
            }
        }
        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
