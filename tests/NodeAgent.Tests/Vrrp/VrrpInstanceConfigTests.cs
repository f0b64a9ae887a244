using System.Net;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

public sealed class VrrpInstanceConfigTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;

    public static TheoryData<int, byte, byte, long, string?, long, string> InvalidConfigs => new()
    {
        // version, vrid, priority, interval ticks, address, preempt delay ticks, field named
        { 4, 51, 100, 1000 * Ms, "198.18.0.1", 0, "Version" },
        { 3, 0, 100, 1000 * Ms, "198.18.0.1", 0, "VirtualRouterId" },
        { 2, 0, 100, 1000 * Ms, "198.18.0.1", 0, "VirtualRouterId" },
        { 3, 51, 0, 1000 * Ms, "198.18.0.1", 0, "Priority" },
        { 2, 51, 0, 1000 * Ms, "198.18.0.1", 0, "Priority" },
        { 3, 51, 100, 1000 * Ms, null, 0, "PrimaryAddress" },
        { 2, 51, 100, 1000 * Ms, "fd00::1", 0, "PrimaryAddress" },
        { 2, 51, 100, 0, "198.18.0.1", 0, "AdvertInterval" },
        { 2, 51, 100, 1500 * Ms, "198.18.0.1", 0, "AdvertInterval" },
        { 2, 51, 100, 100 * Ms, "198.18.0.1", 0, "AdvertInterval" },
        { 2, 51, 100, 256_000 * Ms, "198.18.0.1", 0, "AdvertInterval" },
        { 3, 51, 100, 0, "198.18.0.1", 0, "AdvertInterval" },
        { 3, 51, 100, 5 * Ms, "198.18.0.1", 0, "AdvertInterval" },
        { 3, 51, 100, 15 * Ms, "fd00::1", 0, "AdvertInterval" },
        { 3, 51, 100, 40_960 * Ms, "198.18.0.1", 0, "AdvertInterval" },
        { 3, 51, 100, -1000 * Ms, "198.18.0.1", 0, "AdvertInterval" },
        { 3, 51, 100, 1000 * Ms, "198.18.0.1", -1, "PreemptDelay" },
    };

    [Theory]
    [MemberData(nameof(InvalidConfigs))]
    public void Validate_RejectsBadField_NamingIt(
        int version, byte vrid, byte priority, long intervalTicks, string? address, long preemptDelayTicks, string field)
    {
        var config = new VrrpInstanceConfig(
            (VrrpVersion)version, vrid, priority, TimeSpan.FromTicks(intervalTicks),
            address is null ? null! : IPAddress.Parse(address), PreemptDelay: TimeSpan.FromTicks(preemptDelayTicks));

        var error = Assert.Throws<ArgumentException>(config.Validate);
        Assert.Equal(field, error.ParamName);
        Assert.Contains(field, error.Message);

        var fromConstructor = Assert.Throws<ArgumentException>(() => new VrrpStateMachine(config));
        Assert.Equal(field, fromConstructor.ParamName);
    }

    public static TheoryData<int, byte, byte, long, string> ValidBoundaries => new()
    {
        { 2, 1, 1, 1000 * Ms, "198.18.0.1" },
        { 2, 255, 255, 255_000 * Ms, "198.18.255.254" },
        { 3, 1, 1, 10 * Ms, "198.18.0.1" },
        { 3, 255, 255, 40_950 * Ms, "fd00::1" },
        { 3, 51, 100, 1230 * Ms, "fd00::ffff" },
    };

    [Theory]
    [MemberData(nameof(ValidBoundaries))]
    public void Validate_AcceptsBoundaryValues(int version, byte vrid, byte priority, long intervalTicks, string address)
    {
        var config = new VrrpInstanceConfig(
            (VrrpVersion)version, vrid, priority, TimeSpan.FromTicks(intervalTicks), IPAddress.Parse(address));

        config.Validate();
        var machine = new VrrpStateMachine(config);
        Assert.Equal(VrrpState.Initialize, machine.State);
        Assert.Equal(config.AdvertInterval, machine.MasterAdverInterval);
    }
}
