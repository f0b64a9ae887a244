using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

public class VrrpSimplePasswordTests
{
    [Fact]
    public void ShortPasswordIsZeroPadded()
    {
        Assert.Equal("1111\0\0\0\0"u8.ToArray(), VrrpSimplePassword.ToAuthData("1111"));
        Assert.False(VrrpSimplePassword.IsTruncated("1111"));
    }

    [Fact]
    public void EightBytesFitExactly()
    {
        Assert.Equal("12345678"u8.ToArray(), VrrpSimplePassword.ToAuthData("12345678"));
        Assert.False(VrrpSimplePassword.IsTruncated("12345678"));
    }

    [Fact]
    public void LongerPasswordIsCutToEightBytesLikeKeepalived()
    {
        Assert.Equal("12345678"u8.ToArray(), VrrpSimplePassword.ToAuthData("123456789abc"));
        Assert.True(VrrpSimplePassword.IsTruncated("123456789"));
    }

    [Fact]
    public void NonAsciiIsCountedInUtf8Bytes()
    {
        // "ü" is two UTF-8 bytes: four of them fill the field, a fifth is cut.
        Assert.Equal("üüüü"u8.ToArray(), VrrpSimplePassword.ToAuthData("üüüü"));
        Assert.True(VrrpSimplePassword.IsTruncated("üüüüü"));
    }

    [Fact]
    public void EmptyPasswordIsRefused()
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => VrrpSimplePassword.ToAuthData(""));
        Assert.Equal("password", error.ParamName);
    }
}
