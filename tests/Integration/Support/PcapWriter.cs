using System.Buffers.Binary;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// Writes the classic libpcap file format (https://wiki.wireshark.org/Development/LibpcapFileFormat):
/// a 24-byte global header, then per packet a 16-byte record header and the frame bytes. Little endian,
/// microsecond timestamps.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    public const uint LinkTypeEthernet = 1;

    private const uint MagicMicroseconds = 0xA1B2C3D4;
    private const ushort VersionMajor = 2;
    private const ushort VersionMinor = 4;
    private const uint SnapLength = 65535;
    private const int GlobalHeaderLength = 24;
    private const int RecordHeaderLength = 16;

    private readonly Stream _stream;

    public PcapWriter(Stream stream, uint linkType = LinkTypeEthernet)
    {
        _stream = stream;
        Span<byte> header = stackalloc byte[GlobalHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header[0..], MagicMicroseconds);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], VersionMajor);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], VersionMinor);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);   // thiszone: timestamps are UTC
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], linkType);
        _stream.Write(header);
    }

    public void WritePacket(DateTimeOffset timestamp, ReadOnlySpan<byte> frame)
    {
        if (frame.Length > SnapLength)
        {
            throw new ArgumentException($"Frame of {frame.Length} bytes exceeds the snap length {SnapLength}.", nameof(frame));
        }
        long microseconds = (timestamp - DateTimeOffset.UnixEpoch).Ticks / (TimeSpan.TicksPerMillisecond / 1000);
        Span<byte> record = stackalloc byte[RecordHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(record[0..], (uint)(microseconds / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(microseconds % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);  // captured length
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length); // original length
        _stream.Write(record);
        _stream.Write(frame);
    }

    public void Dispose() => _stream.Flush();
}
