using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Tests.Nginx;

/// <summary>A listener on a VIP needs ip_nonlocal_bind on the node that does not hold the VIP; the agent sets it and says so.</summary>
public sealed class NonLocalBindTests : IDisposable
{
    readonly DirectoryInfo _procSys = Directory.CreateTempSubdirectory("nginx-ha-procsys-");

    static NodeHaConfig Config(params string?[] listenerAddresses)
    {
        var config = new NodeHaConfig();
        config.Spec.VrrpInstances.Add(new VrrpInstanceConfig { Name = "edge/web/0", VirtualIPs = ["198.18.0.201/24", "fd00::201/64"] });
        var pool = new BackendPoolConfig { Name = "edge/web" };
        pool.Spec.Listeners.AddRange(listenerAddresses.Select((a, i) => new NginxListener { Port = 80 + i, Address = a }));
        config.Spec.BackendPools.Add(pool);
        return config;
    }

    string Sysctl(string family)
    {
        var path = Path.Combine(_procSys.FullName, "net", family, "ip_nonlocal_bind");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path)) File.WriteAllText(path, "0\n");
        return path;
    }

    [Fact]
    public void OnlyListenersOnAVipNeedIt()
    {
        var needs = NonLocalBind.Needed(Config(null, "198.18.0.11", "198.18.0.201", "fd00::201"));

        Assert.Equal([new NonLocalBind.Need("ipv4", "edge/web: 198.18.0.201:82"), new NonLocalBind.Need("ipv6", "edge/web: [fd00::201]:83")], needs);
    }

    [Fact]
    public void SetsTheSysctlOfEachNeededFamilyOnceAndSaysSo()
    {
        var v4 = Sysctl("ipv4");
        var v6 = Sysctl("ipv6");
        var log = new List<string>();

        NonLocalBind.Ensure(Config("198.18.0.201"), log.Add, _procSys.FullName);
        NonLocalBind.Ensure(Config("198.18.0.201"), log.Add, _procSys.FullName);

        Assert.Equal("1", File.ReadAllText(v4).Trim());
        Assert.Equal("0", File.ReadAllText(v6).Trim());
        Assert.Equal(["set net.ipv4.ip_nonlocal_bind=1 in this network namespace: listener edge/web: 198.18.0.201:80 binds a VIP this node may not hold"], log);
    }

    [Fact]
    public void WildcardListenersLeaveTheSysctlAlone()
    {
        var v4 = Sysctl("ipv4");
        var log = new List<string>();

        NonLocalBind.Ensure(Config(null, "198.18.0.11"), log.Add, _procSys.FullName);

        Assert.Equal("0", File.ReadAllText(v4).Trim());
        Assert.Empty(log);
    }

    [Fact]
    public void AnUnwritableSysctlIsAWarningNamingTheFix()
    {
        var log = new List<string>();

        NonLocalBind.Ensure(Config("198.18.0.201"), log.Add, Path.Combine(_procSys.FullName, "missing"));

        Assert.Single(log);
        Assert.StartsWith("warning: listener edge/web: 198.18.0.201:80 binds a VIP, but net.ipv4.ip_nonlocal_bind could not be set", log[0]);
    }

    public void Dispose() => _procSys.Delete(recursive: true);
}
