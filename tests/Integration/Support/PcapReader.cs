using System.Buffers.Binary;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// Reads classic libpcap files (as <c>tshark -F pcap</c> writes them): either byte order,
/// micro- or nanosecond timestamps. Returns each record's frame bytes.
/// </summary>
public static class PcapReader
{
    private const uint MagicMicroseconds = 0xA1B2C3D4;
    private const uint MagicNanoseconds = 0xA1B23C4D;
    private const int GlobalHeaderLength = 24;
    private const int RecordHeaderLength = 16;
    private const int LinkTypeOffset = 20;
    private const int CapturedLengthOffset = 8;

    public static (uint LinkType, List<byte[]> Frames) Read(byte[] file)
    {
        if (file.Length < GlobalHeaderLength)
        {
            throw new InvalidDataException($"pcap file of {file.Length} bytes has no global header.");
        }
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file);
        bool littleEndian = magic is MagicMicroseconds or MagicNanoseconds;
        uint swapped = BinaryPrimitives.ReverseEndianness(magic);
        if (!littleEndian && swapped is not (MagicMicroseconds or MagicNanoseconds))
        {
            throw new InvalidDataException($"Not a classic pcap file (magic 0x{magic:X8}); pcapng is not read here.");
        }
        uint ReadUInt32(int offset) => littleEndian
            ? BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset))
            : BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(offset));

        uint linkType = ReadUInt32(LinkTypeOffset);
        var frames = new List<byte[]>();
        int position = GlobalHeaderLength;
        while (position + RecordHeaderLength <= file.Length)
        {
            int captured = checked((int)ReadUInt32(position + CapturedLengthOffset));
            int start = position + RecordHeaderLength;
            if (start + captured > file.Length)
            {
                throw new InvalidDataException($"pcap record at offset {position} claims {captured} bytes beyond the end of the file.");
            }
            frames.Add(file[start..(start + captured)]);
            position = start + captured;
        }
        return (linkType, frames);
    }
}
