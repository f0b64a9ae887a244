using System.Buffers.Binary;

namespace NginxHa.NodeAgent.Network.Native;

/// <summary>
/// Ancillary data (struct cmsghdr sequences) for sendmsg/recvmsg, LP64 layout:
/// <code>
///  0      8         12        16
///  +------+---------+---------+------------------------------+
///  | len  | level   | type    | data (len - 16 bytes), padded |
///  +------+---------+---------+   to a multiple of 8          |
/// </code>
/// </summary>
internal static class ControlMessages
{
    private const int LengthOffset = 0;
    private const int LevelOffset = 8;
    private const int TypeOffset = 12;
    public const int HeaderSize = 16;
    private const int Alignment = 8;

    public static int Align(int length) => (length + Alignment - 1) & ~(Alignment - 1);

    /// <summary>CMSG_SPACE: room one message with <paramref name="dataLength"/> bytes takes.</summary>
    public static int Space(int dataLength) => HeaderSize + Align(dataLength);

    /// <summary>Writes one message at the start of <paramref name="buffer"/>; returns the data span to fill.</summary>
    public static Span<byte> Write(Span<byte> buffer, int level, int type, int dataLength)
    {
        buffer[..Space(dataLength)].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[LengthOffset..], (ulong)(HeaderSize + dataLength));
        BinaryPrimitives.WriteInt32LittleEndian(buffer[LevelOffset..], level);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[TypeOffset..], type);
        return buffer.Slice(HeaderSize, dataLength);
    }

    /// <summary>Finds the data of the first message with this level and type, as the kernel filled it.</summary>
    public static bool TryFind(ReadOnlySpan<byte> control, int level, int type, out ReadOnlySpan<byte> data)
    {
        while (control.Length >= HeaderSize)
        {
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(control[LengthOffset..]);
            if (length < HeaderSize || length > (ulong)control.Length)
                break;
            if (BinaryPrimitives.ReadInt32LittleEndian(control[LevelOffset..]) == level &&
                BinaryPrimitives.ReadInt32LittleEndian(control[TypeOffset..]) == type)
            {
                data = control[HeaderSize..(int)length];
                return true;
            }
            int next = Align((int)length);
            if (next >= control.Length)
                break;
            control = control[next..];
        }
        data = default;
        return false;
    }
}
