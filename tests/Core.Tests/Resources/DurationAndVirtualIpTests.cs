using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Resources;

public class DurationAndVirtualIpTests
{
    [Theory]
    [InlineData("1s", 1000)]
    [InlineData("100ms", 100)]
    [InlineData("1.5s", 1500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("0s", 0)]
    public void ParsesDurations(string text, long milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var value, out var reason), reason);
        Assert.Equal(milliseconds, (long)value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("", "is not a duration (use e.g. 1s or 100ms)")]
    [InlineData("1", "is not a duration: a number needs a unit (h, m, s or ms), e.g. 1s or 100ms")]
    [InlineData("-1s", "is not a duration (use e.g. 1s or 100ms)")]
    [InlineData("1 s", "is not a duration: a number needs a unit (h, m, s or ms), e.g. 1s or 100ms")]
    [InlineData("1.2.3s", "is not a duration (use e.g. 1s or 100ms)")]
    [InlineData("0.5ms", "is not a whole number of milliseconds")]
    [InlineData("25h", "is longer than a day")]
    public void RejectsBadDurationsWithAReason(string text, string expected)
    {
        Assert.False(Duration.TryParse(text, out _, out var reason));
        Assert.Equal(expected, reason);
    }

    [Theory]
    [InlineData(1000, "1s")]
    [InlineData(250, "250ms")]
    [InlineData(90_000, "90s")]
    public void FormatsCanonically(long milliseconds, string expected) =>
        Assert.Equal(expected, Duration.Format(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData("198.18.0.1", "198.18.0.1/32", false)]
    [InlineData("198.18.0.1/24", "198.18.0.1/24", false)]
    [InlineData("fd00::1", "fd00::1/128", true)]
    [InlineData("FD00:0::10/64", "fd00::10/64", true)]
    public void ParsesVirtualIps(string text, string expected, bool ipv6)
    {
        Assert.True(VirtualIp.TryParse(text, out var vip, out var reason), reason);
        Assert.Equal((expected, ipv6), (vip.ToString(), vip.IsIPv6));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("1.2.3")]
    [InlineData("01.2.3.4.5")]
    [InlineData("198.18.0.1 ")]
    [InlineData("fd00::1%eth0")]
    [InlineData("::ffff:198.18.0.1x")]
    public void RejectsWhatIPAddressParseWouldAccept(string text)
    {
        Assert.False(VirtualIp.TryParse(text, out _, out var reason));
        Assert.Equal("is not an IP address", reason);
    }
}
