using System.Diagnostics;
using System.Net.Sockets;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// Records every frame a node's interface sees, from the moment it is opened, on a thread of its own blocking in
/// recv (so a busy test thread pool delays no frame's time stamp). Tests then ask what was seen, and wait for it.
/// </summary>
public sealed class FrameRecorder : IDisposable
{
    readonly Socket _socket;
    readonly Thread _thread;
    readonly List<RecordedFrame> _frames = [];
    readonly Lock _gate = new();
    volatile bool _stopped;

    public FrameRecorder(LabNode node)
    {
        _socket = node.Run(() => PacketCapture.OpenSocket(node.InterfaceName));
        _socket.ReceiveTimeout = 100;
        _thread = new Thread(Receive) { IsBackground = true, Name = $"frames {node.Namespace}" };
        _thread.Start();
    }

    /// <summary>Frames seen so far that <paramref name="match"/> accepts, in arrival order.</summary>
    public IReadOnlyList<RecordedFrame> Where(Func<RecordedFrame, bool> match)
    {
        lock (_gate) return _frames.Where(match).ToList();
    }

    /// <summary>Waits until <paramref name="count"/> frames that <paramref name="match"/> accepts were seen; returns them.</summary>
    public async Task<IReadOnlyList<RecordedFrame>> WaitForAsync(Func<RecordedFrame, bool> match, int count, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var seen = Where(match);
            if (seen.Count >= count) return seen;
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException($"saw {seen.Count} of {count} frames ({what}) within {timeout.TotalSeconds} s");
            await Task.Delay(10);
        }
    }

    void Receive()
    {
        var buffer = new byte[65536];
        while (!_stopped)
        {
            int length;
            try
            {
                length = _socket.Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
            {
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            var frame = new RecordedFrame(Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow, buffer[..length]);
            lock (_gate) _frames.Add(frame);
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }
}

/// <summary>One frame with its arrival time (<see cref="Stopwatch"/> ticks and wall clock, for pcap files).</summary>
public sealed record RecordedFrame(long Timestamp, DateTimeOffset WallClock, byte[] Bytes);
