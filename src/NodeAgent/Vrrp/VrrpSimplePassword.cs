using System.Text;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// The VRRPv2 simple-text authentication field as keepalived fills it from <c>auth_pass</c>:
/// the password's UTF-8 bytes, cut to 8 bytes, zero padded.
/// </summary>
public static class VrrpSimplePassword
{
    /// <summary>Returns the 8-byte Authentication Data field for <paramref name="password"/>.</summary>
    /// <exception cref="ArgumentException">The password is empty.</exception>
    public static byte[] ToAuthData(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length == 0)
        {
            throw new ArgumentException("The VRRP password is empty.", nameof(password));
        }
        byte[] utf8 = Encoding.UTF8.GetBytes(password);
        try
        {
            var field = new byte[VrrpPacket.AuthDataLength];
            utf8.AsSpan(0, Math.Min(utf8.Length, field.Length)).CopyTo(field);
            return field;
        }
        finally
        {
            Array.Clear(utf8);
        }
    }

    /// <summary>True when only the first 8 bytes of <paramref name="password"/> would be used (worth a warning).</summary>
    public static bool IsTruncated(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return Encoding.UTF8.GetByteCount(password) > VrrpPacket.AuthDataLength;
    }
}
