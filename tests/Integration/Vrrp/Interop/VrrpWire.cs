using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Vrrp.Interop;

/// <summary>One VRRP advert seen on the wire: when (Stopwatch timestamp), from where, with which priority.</summary>
public sealed record WireAdvert(long At, IPAddress Source, byte Priority);

/// <summary>
/// Every VRRP advert (IPv4 or IPv6) of one VRID that reaches a node's interface, recorded by a capture thread of its own
/// (blocking receives, Stopwatch timestamps), so that "nothing happened" can be bound to adverts that did happen,
/// and a take-over's timing is read off the wire rather than off a probe that shares the test's thread pool.
/// </summary>
public sealed class VrrpWire : IDisposable
{
    readonly PacketCapture _capture;
    readonly byte _vrid;
    readonly List<WireAdvert> _adverts = [];
    readonly Thread _thread;
    volatile bool _stopping;

    public VrrpWire(LabNode node, byte vrid)
    {
        _vrid = vrid;
        _capture = node.Run(() => PacketCapture.Open(node.InterfaceName));
        _thread = new Thread(CaptureLoop) { IsBackground = true, Name = $"vrrp wire {node.Namespace}" };
        _thread.Start();
    }

    public IReadOnlyList<WireAdvert> Adverts
    {
        get { lock (_adverts) return _adverts.ToArray(); }
    }

    public IReadOnlyList<WireAdvert> From(IPAddress source, long since = 0) =>
        Adverts.Where(a => a.Source.Equals(source) && a.At >= since).ToArray();

    /// <summary>Waits until <paramref name="count"/> adverts (priority above 0) from <paramref name="source"/> have been seen since <paramref name="since"/>.</summary>
    public Task WaitForAdvertsAsync(IPAddress source, int count, long since, TimeSpan timeout) =>
        WaitForAdvertsAsync(a => a.Source.Equals(source) && a.Priority > 0, $"from {source}", count, since, timeout);

    /// <summary>Waits until <paramref name="count"/> adverts that <paramref name="match"/> accepts have been seen since <paramref name="since"/>.</summary>
    public async Task WaitForAdvertsAsync(Func<WireAdvert, bool> match, string what, int count, long since, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        int seen;
        while ((seen = Adverts.Count(a => a.At >= since && match(a))) < count)
        {
            Assert.True(Stopwatch.GetTimestamp() < deadline, $"saw {seen} of {count} adverts {what} within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    /// <summary>The first advert from <paramref name="source"/> at or after <paramref name="since"/>, waiting for it.</summary>
    public async Task<WireAdvert> FirstAsync(IPAddress source, long since, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var first = From(source, since).FirstOrDefault();
            if (first is not null) return first;
            Assert.True(Stopwatch.GetTimestamp() < deadline, $"no advert from {source} within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    public static TimeSpan Between(long earlier, long later) => Stopwatch.GetElapsedTime(earlier, later);

    void CaptureLoop()
    {
        var buffer = new byte[65536];
        while (!_stopping)
        {
            int length;
            try
            {
                length = _capture.Receive(buffer, TimeSpan.FromMilliseconds(100));
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (length == 0) continue;
            long at = Stopwatch.GetTimestamp();
            if (TryParse(buffer.AsSpan(0, length), out var source, out var priority))
                lock (_adverts) _adverts.Add(new WireAdvert(at, source, priority));
        }
    }

    bool TryParse(ReadOnlySpan<byte> frame, out IPAddress source, out byte priority)
    {
        source = IPAddress.None;
        priority = 0;
        // Ethernet II; IPv4 or IPv6 (no extension headers), protocol 112. The VRRP header follows the IP header:
        // version/type, VRID, priority.
        if (frame.Length < 14 + 20) return false;
        var ip = frame[14..];
        ReadOnlySpan<byte> vrrp;
        switch (BinaryPrimitives.ReadUInt16BigEndian(frame[12..]))
        {
            case 0x0800:
                int headerLength = (ip[0] & 0x0f) * 4;
                if (ip[9] != 112 || ip.Length < headerLength + 3) return false;
                source = new IPAddress(ip.Slice(12, 4));
                vrrp = ip[headerLength..];
                break;
            case 0x86dd:
                if (ip.Length < 40 + 3 || ip[6] != 112) return false;
                source = new IPAddress(ip.Slice(8, 16));
                vrrp = ip[40..];
                break;
            default:
                return false;
        }
        if (vrrp[1] != _vrid) return false;
        priority = vrrp[2];
        return true;
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join(TimeSpan.FromSeconds(5));
        _capture.Dispose();
    }
}
