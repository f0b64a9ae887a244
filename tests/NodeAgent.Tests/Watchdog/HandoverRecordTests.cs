using System.Net;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Vrrp;
using NginxHa.NodeAgent.Watchdog;

namespace NginxHa.NodeAgent.Tests.Watchdog;

public sealed class HandoverRecordTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nginx-ha-handover-");

    [Fact]
    public void RecordRoundTripsWhatAPriorityZeroAdvertNeedsAndIsPrivate()
    {
        var plan = new InstancePlan("edge/web/0", "eth0", VrrpVersion.V2, 51, 254, TimeSpan.FromSeconds(1), true, TimeSpan.Zero,
            [new VirtualIp(IPAddress.Parse("198.18.0.201"), 24), new VirtualIp(IPAddress.Parse("198.18.0.202"), 24)], [IPAddress.Parse("198.18.0.12")], ReadOnlyMemory<byte>.Empty);
        var v6 = plan with { Name = "edge/v6/0", Version = VrrpVersion.V3, VirtualRouterId = 7, AdvertInterval = TimeSpan.FromMilliseconds(20),
            VirtualAddresses = [new VirtualIp(IPAddress.Parse("fd00::5"), 64)], UnicastPeers = [] };

        HandoverRecord.Write(_dir.FullName, [plan, v6]);
        var problems = new List<string>();
        var back = HandoverRecord.Read(_dir.FullName, problems);

        Assert.Empty(problems);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir.FullName, HandoverRecord.FileName)));
        Assert.Equal(2, back.Count);
        var expected = HandoverInstance.From(plan);
        Assert.Equal((expected.Name, expected.Interface, expected.Version, expected.VirtualRouterId, expected.AdvertInterval, expected.PasswordFile),
            (back[0].Name, back[0].Interface, back[0].Version, back[0].VirtualRouterId, back[0].AdvertInterval, back[0].PasswordFile));
        Assert.Equal(expected.VirtualAddresses, back[0].VirtualAddresses);
        Assert.Equal(expected.UnicastPeers, back[0].UnicastPeers);
        Assert.Equal((VrrpVersion.V3, (byte)7, TimeSpan.FromMilliseconds(20), (string?)null), (back[1].Version, back[1].VirtualRouterId, back[1].AdvertInterval, back[1].PasswordFile));
        Assert.Empty(back[1].UnicastPeers);
    }

    [Fact]
    public void DamagedLineIsReportedWithItsLineNumberAndSkipped()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, HandoverRecord.FileName), "edge/web/0\teth0\t3\t51\t1000\t198.18.0.201/24\t-\t-\nbroken\n");
        var problems = new List<string>();

        var back = HandoverRecord.Read(_dir.FullName, problems);

        Assert.Single(back);
        Assert.Equal([$"{Path.Combine(_dir.FullName, HandoverRecord.FileName)}:2: not a handover record; skipped"], problems);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
