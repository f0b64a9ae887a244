using System.Text;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>A secret file that cannot be used; the message names the file and the reason, never the content.</summary>
public sealed class SecretFileException(string message) : Exception(message);

/// <summary>Reads a VRRPv2 PASS password from a file (the standalone form of a Secret).</summary>
public static class VrrpPasswordFile
{
    public static ReadOnlyMemory<byte> Read(string path)
    {
        byte[] bytes;
        try
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
                throw new SecretFileException($"\"{path}\" is readable by everyone; chmod 600 it");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SecretFileException($"\"{path}\" cannot be read: {ex.Message}");
        }
        var password = Encoding.UTF8.GetString(bytes).TrimEnd('\r', '\n');
        if (password.Length == 0)
            throw new SecretFileException($"\"{path}\" is empty");
        return VrrpSimplePassword.ToAuthData(password);
    }
}
