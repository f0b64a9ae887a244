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
            [new VirtualIp(IPAddress.Parse("198.18.0.201"), 24), new VirtualIp(IPAddress.Parse("198.18.0.202"), 24)], [IPAddress.Parse("198.18.0.12")],
            VrrpSimplePassword.ToAuthData("s3cret"));
        var v6 = plan with { Name = "edge/v6/0", Version = VrrpVersion.V3, VirtualRouterId = 7, AdvertInterval = TimeSpan.FromMilliseconds(20),
            VirtualAddresses = [new VirtualIp(IPAddress.Parse("fd00::5"), 64)], UnicastPeers = [], AuthData = ReadOnlyMemory<byte>.Empty };

        HandoverRecord.Write(_dir.FullName, [plan, v6]);
        var problems = new List<string>();
        var back = HandoverRecord.Read(_dir.FullName, problems);

        Assert.Empty(problems);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir.FullName, HandoverRecord.FileName)));
        Assert.Equal(2, back.Count);
        var expected = HandoverInstance.From(plan);
        Assert.Equal((expected.Name, expected.Interface, expected.Version, expected.VirtualRouterId, expected.AdvertInterval),
            (back[0].Name, back[0].Interface, back[0].Version, back[0].VirtualRouterId, back[0].AdvertInterval));
        // The v2 PASS password (resolved from a file or a Secret) comes back, so the watchdog's priority-0 advert authenticates.
        Assert.Equal("s3cret\0\0"u8.ToArray(), back[0].AuthData.ToArray());
        Assert.Equal(expected.VirtualAddresses, back[0].VirtualAddresses);
        Assert.Equal(expected.UnicastPeers, back[0].UnicastPeers);
        Assert.Equal((VrrpVersion.V3, (byte)7, TimeSpan.FromMilliseconds(20)), (back[1].Version, back[1].VirtualRouterId, back[1].AdvertInterval));
        Assert.True(back[1].AuthData.IsEmpty);
        Assert.Empty(back[1].UnicastPeers);
    }

    [Theory]
    [InlineData("s3cret")]             // a password file's raw text, never written
    [InlineData("pass:czNjcmV0")]      // 6 bytes, not the 8 of the field
    [InlineData("pass:not base64!")]
    public void DamagedAuthenticationFieldIsReportedAndSkipped(string field)
    {
        File.WriteAllText(Path.Combine(_dir.FullName, HandoverRecord.FileName), $"edge/web/0\teth0\t2\t51\t1000\t198.18.0.201/24\t-\t{field}\n");
        var problems = new List<string>();

        Assert.Empty(HandoverRecord.Read(_dir.FullName, problems));
        Assert.Single(problems);
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
