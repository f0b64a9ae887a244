using System.Buffers.Binary;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// RFC 1071 Internet checksum: 16-bit one's complement of the one's complement sum. Shared by the VRRP codec
/// and the Neighbor Advertisement frame; accumulate even-length pieces (pseudo-header, then message).
/// </summary>
internal static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> as big-endian 16-bit words to a running 32-bit sum.</summary>
    /// <remarks>An odd trailing byte is padded with a zero byte (RFC 1071 section 4.1).</remarks>
    public static uint Accumulate(uint sum, ReadOnlySpan<byte> data)
    {
        int index = 0;
        for (; index + 1 < data.Length; index += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[index..]);
        }
        if (index < data.Length)
        {
            sum += (uint)data[index] << 8;
        }
        return sum;
    }

    /// <summary>Folds the carries back in and complements: the value to put in a checksum field.</summary>
    /// <remarks>Over data that already holds a correct checksum the result is 0.</remarks>
    public static ushort Finish(uint sum)
    {
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }
}
