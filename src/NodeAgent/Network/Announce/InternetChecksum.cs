using System.Buffers.Binary;

namespace NginxHa.NodeAgent.Network.Announce;

/// <summary>RFC 1071 ones'-complement sum, accumulated over several spans (pseudo-header, then message).</summary>
internal struct InternetChecksum
{
    private ulong _sum;
    private bool _odd; // an odd-length span leaves its last byte as the high half of a 16-bit word

    public void Add(ReadOnlySpan<byte> data)
    {
        if (_odd && !data.IsEmpty)
        {
            _sum += data[0];
            data = data[1..];
            _odd = false;
        }
        for (; data.Length >= 2; data = data[2..])
            _sum += BinaryPrimitives.ReadUInt16BigEndian(data);
        if (data.Length == 1)
        {
            _sum += (ulong)data[0] << 8;
            _odd = true;
        }
    }

    public readonly ushort Complement()
    {
        ulong sum = _sum;
        while (sum > 0xffff)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
