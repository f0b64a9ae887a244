using System.Buffers.Binary;

namespace NginxHa.NodeAgent.Network.Netlink;

/// <summary>
/// Netlink message header (RFC 3549 section 2.3.2), fields in host byte order:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Length                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Type              |           Flags                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Sequence Number                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Process ID (PID)                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Messages and attributes are padded to 4 bytes (NLMSG_ALIGNTO, RTA_ALIGNTO).
/// </summary>
internal readonly record struct NetlinkHeader(int Length, ushort Type, ushort Flags, uint Sequence, uint PortId)
{
    public const int Size = 16;
    private const int LengthOffset = 0;
    private const int TypeOffset = 4;
    private const int FlagsOffset = 6;
    private const int SequenceOffset = 8;
    private const int PortIdOffset = 12;
    public const int Alignment = 4;

    // Message types (linux/netlink.h, linux/rtnetlink.h).
    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;
    public const ushort NLMSG_OVERRUN = 4;
    public const ushort RTM_NEWLINK = 16;
    public const ushort RTM_GETLINK = 18;
    public const ushort RTM_NEWADDR = 20;
    public const ushort RTM_DELADDR = 21;
    public const ushort RTM_GETADDR = 22;

    // Flags.
    public const ushort NLM_F_REQUEST = 0x01;
    public const ushort NLM_F_MULTI = 0x02;
    public const ushort NLM_F_ACK = 0x04;
    public const ushort NLM_F_DUMP_INTR = 0x10;
    public const ushort NLM_F_ROOT = 0x100;
    public const ushort NLM_F_MATCH = 0x200;
    public const ushort NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
    public const ushort NLM_F_EXCL = 0x200;
    public const ushort NLM_F_CREATE = 0x400;

    public static int Align(int length) => (length + Alignment - 1) & ~(Alignment - 1);

    public void Write(Span<byte> buffer)
    {
        BinaryPrimitives.WriteInt32LittleEndian(buffer[LengthOffset..], Length);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[TypeOffset..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[FlagsOffset..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[SequenceOffset..], Sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[PortIdOffset..], PortId);
    }

    /// <summary>Reads the header at the start of <paramref name="buffer"/>; the length must fit the buffer.</summary>
    public static bool TryRead(ReadOnlySpan<byte> buffer, out NetlinkHeader header, out string? error)
    {
        header = default;
        if (buffer.Length < Size)
        {
            error = $"netlink header needs {Size} bytes, got {buffer.Length}";
            return false;
        }
        int length = BinaryPrimitives.ReadInt32LittleEndian(buffer[LengthOffset..]);
        if (length < Size || length > buffer.Length)
        {
            error = $"netlink message length {length} is outside {Size}..{buffer.Length}";
            return false;
        }
        header = new NetlinkHeader(
            length,
            BinaryPrimitives.ReadUInt16LittleEndian(buffer[TypeOffset..]),
            BinaryPrimitives.ReadUInt16LittleEndian(buffer[FlagsOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[SequenceOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[PortIdOffset..]));
        error = null;
        return true;
    }

    /// <summary>Body of an NLMSG_ERROR message: a negative errno (0 = acknowledgement), then the request's header.</summary>
    public static bool TryReadError(ReadOnlySpan<byte> body, out int errno, out string? error)
    {
        errno = 0;
        if (body.Length < sizeof(int))
        {
            error = $"netlink error message needs 4 bytes, got {body.Length}";
            return false;
        }
        errno = -BinaryPrimitives.ReadInt32LittleEndian(body);
        error = null;
        return true;
    }
}

/// <summary>
/// Builds one netlink request: header, a fixed body, then attributes (RFC 3549 section 2.3.2.1):
/// <code>
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Length                 |            Type               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Value (padded to 4 bytes)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
internal ref struct NetlinkMessageWriter
{
    private const int AttributeHeaderSize = 4;
    private readonly Span<byte> _buffer;
    private readonly ushort _type;
    private readonly ushort _flags;
    private readonly uint _sequence;
    private int _length;

    public NetlinkMessageWriter(Span<byte> buffer, ushort type, ushort flags, uint sequence)
    {
        _buffer = buffer;
        _type = type;
        _flags = flags;
        _sequence = sequence;
        _length = NetlinkHeader.Size;
    }

    public Span<byte> AppendBody(int size)
    {
        Span<byte> body = _buffer.Slice(_length, NetlinkHeader.Align(size));
        body.Clear();
        _length += body.Length;
        return body[..size];
    }

    public void AppendAttribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        int length = AttributeHeaderSize + value.Length;
        Span<byte> attribute = _buffer.Slice(_length, NetlinkHeader.Align(length));
        attribute.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(attribute, (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(attribute[2..], type);
        value.CopyTo(attribute[AttributeHeaderSize..]);
        _length += attribute.Length;
    }

    public void AppendAttribute(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        AppendAttribute(type, bytes);
    }

    public int Finish()
    {
        new NetlinkHeader(_length, _type, _flags, _sequence, 0).Write(_buffer);
        return _length;
    }
}

/// <summary>Walks the attributes (type-length-value, 4-byte aligned) that follow a message's fixed body.</summary>
internal ref struct NetlinkAttributeReader
{
    private const int HeaderSize = 4;
    private const ushort TypeMask = 0x3fff; // drops NLA_F_NESTED and NLA_F_NET_BYTEORDER
    private ReadOnlySpan<byte> _rest;

    public NetlinkAttributeReader(ReadOnlySpan<byte> attributes) => _rest = attributes;

    /// <summary>Set when <see cref="Next"/> stopped on a malformed attribute rather than at the end.</summary>
    public string? Error { get; private set; }

    public bool Next(out ushort type, out ReadOnlySpan<byte> value)
    {
        type = 0;
        value = default;
        if (_rest.IsEmpty)
            return false;
        if (_rest.Length < HeaderSize)
        {
            Error = $"attribute header needs {HeaderSize} bytes, {_rest.Length} left";
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        if (length < HeaderSize || length > _rest.Length)
        {
            Error = $"attribute length {length} is outside {HeaderSize}..{_rest.Length}";
            return false;
        }
        type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]) & TypeMask);
        value = _rest[HeaderSize..length];
        _rest = _rest[Math.Min(NetlinkHeader.Align(length), _rest.Length)..];
        return true;
    }
}
