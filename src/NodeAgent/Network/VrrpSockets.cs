using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// The agent's raw VRRP sockets: one per interface, address family and source address, shared by every speaker there.
/// A protocol-112 socket receives every advert on the segment, so a socket per speaker made each of 10 speakers wake,
/// read and decode all the others' adverts (docs/benchmarks.md, "Metrics cost"). Here one thread per socket reads each
/// message once and a <see cref="VrrpDispatcher"/> queues it to the speaker of its VRID. Sending goes through the same
/// socket (each speaker to its own destinations). A socket closes with the last speaker on it.
/// </summary>
public sealed class VrrpSockets(HeardRouters? heard, Action<string> log)
{
    readonly Action<string> _log = log;
    readonly Lock _gate = new();
    readonly Dictionary<(int Index, AddressFamily Family, IPAddress Source), Shared> _open = new();

    /// <summary>
    /// The transport of the speaker of <paramref name="virtualRouterId"/> on <paramref name="iface"/>; disposing it
    /// detaches the speaker (and closes the socket when it was the last).
    /// </summary>
    /// <param name="unicastPeers">empty for multicast; otherwise the peers, all of <paramref name="family"/>.</param>
    /// <exception cref="InvalidOperationException">another speaker runs this VRID on this interface and family.</exception>
    public IVrrpTransport Attach(NetworkInterfaceInfo iface, AddressFamily family, IReadOnlyList<IPAddress> unicastPeers,
        byte virtualRouterId, string owner)
    {
        ArgumentNullException.ThrowIfNull(iface);
        ArgumentNullException.ThrowIfNull(unicastPeers);
        var source = VrrpSocket.SourceFor(iface, family);
        VrrpSocket.CheckUnicastPeers(family, unicastPeers);
        lock (_gate)
        {
            var key = (iface.Index, family, source);
            bool opened = false;
            if (!_open.TryGetValue(key, out var shared))
            {
                shared = new Shared(this, key, VrrpSocket.OpenShared(iface, family), new VrrpDispatcher(family, heard, iface.Name), iface.Name);
                opened = true;
            }
            try
            {
                var endpoint = shared.Attach(unicastPeers, virtualRouterId, owner);
                _open[key] = shared;
                return endpoint;
            }
            catch when (opened)
            {
                shared.Close();
                throw;
            }
        }
    }

    void Detach(Shared shared, IDisposable registration)
    {
        lock (_gate)
        {
            registration.Dispose();
            if (--shared.Members > 0) return;
            _open.Remove(shared.Key);
        }
        shared.Close();
    }

    /// <summary>One socket, its receive thread and its dispatcher.</summary>
    sealed class Shared
    {
        readonly VrrpSockets _owner;
        readonly VrrpSocket _socket;
        readonly VrrpDispatcher _dispatch;
        readonly string _interfaceName;
        // Held while reading and dispatching, by the receive thread and by a speaker's TryReceiveQueued: a message read
        // is in its speaker's queue before anyone reads the next.
        readonly Lock _receiveGate = new();
        readonly int _stopFd;
        readonly Thread _thread;
        // Told when receiving stops for good (an unexpected error), so their speakers fail visibly.
        readonly List<Action<Exception>> _failed = [];
        bool _started;

        public Shared(VrrpSockets owner, (int, AddressFamily, IPAddress) key, VrrpSocket socket, VrrpDispatcher dispatch, string interfaceName)
        {
            _owner = owner;
            Key = key;
            _socket = socket;
            _dispatch = dispatch;
            _interfaceName = interfaceName;
            _stopFd = Posix.EventFd(0, Posix.EFD_CLOEXEC | Posix.EFD_NONBLOCK);
            if (_stopFd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                socket.Dispose();
                throw new Win32Exception(errno, "eventfd failed");
            }
            _thread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"vrrp rx {interfaceName}" };
        }

        public (int Index, AddressFamily Family, IPAddress Source) Key { get; }

        /// <summary>Speakers attached; changed under the owner's lock.</summary>
        public int Members { get; set; }

        public IVrrpTransport Attach(IReadOnlyList<IPAddress> unicastPeers, byte virtualRouterId, string owner)
        {
            var endpoint = new Endpoint(this, unicastPeers, virtualRouterId);
            var registration = _dispatch.Register(virtualRouterId, owner, endpoint.Deliver);
            try
            {
                if (unicastPeers.Count == 0) _socket.JoinGroup();
                if (!_started)
                {
                    _thread.Start();
                    _started = true;
                }
            }
            catch
            {
                registration.Dispose();
                throw;
            }
            endpoint.Registration = registration;
            Members++;
            return endpoint;
        }

        public unsafe void Close()
        {
            ulong one = 1;
            Posix.Write(_stopFd, &one, sizeof(ulong));
            if (_started) _thread.Join();
            Posix.Close(_stopFd);
            _socket.Dispose();
        }

        void ReceiveLoop()
        {
            try
            {
                while (_socket.WaitReadable(_stopFd))
                {
                    try
                    {
                        lock (_receiveGate)
                            while (_socket.TryReceiveQueued(out var packet))
                                _dispatch.Dispatch(ToDatagram(packet));
                    }
                    catch (Exception ex) when (ex is SocketException or IOException)
                    {
                        _owner._log($"VRRP receive on {_interfaceName} failed: {ex.Message}");
                        Thread.Sleep(100); // an error that repeats must not spin
                    }
                }
            }
            catch (Exception ex)
            {
                Action<Exception>[] failed;
                lock (_failed) failed = [.. _failed];
                foreach (var f in failed) f(ex);
            }
        }

        bool TryReceiveQueuedFor(byte virtualRouterId, out VrrpDatagram datagram)
        {
            lock (_receiveGate)
                return _dispatch.TryReceiveQueuedFor(virtualRouterId, TryReadQueued, out datagram);
        }

        bool TryReadQueued(out VrrpDatagram datagram)
        {
            datagram = default;
            if (!_socket.TryReceiveQueued(out var packet)) return false;
            datagram = ToDatagram(packet);
            return true;
        }

        static VrrpDatagram ToDatagram(ReceivedVrrpPacket packet) =>
            new(packet.Source, packet.Destination, packet.TtlOrHopLimit, packet.Message, QueuedFor(packet.KernelReceivedUtc));

        // Both stamps are wall clock, read microseconds apart: their difference survives a clock step. A negative or
        // absurd age (the clock stepped in between) counts as none.
        static TimeSpan QueuedFor(DateTime? kernelReceivedUtc)
        {
            if (kernelReceivedUtc is not { } at) return TimeSpan.Zero;
            var age = DateTime.UtcNow - at;
            return age > TimeSpan.Zero && age < MaxQueuedFor ? age : TimeSpan.Zero;
        }

        static readonly TimeSpan MaxQueuedFor = TimeSpan.FromSeconds(1);

        /// <summary>One speaker's view: its VRID's messages, its destinations, the shared socket to send on.</summary>
        sealed class Endpoint(Shared shared, IReadOnlyList<IPAddress> unicastPeers, byte virtualRouterId) : IVrrpTransport
        {
            volatile Action<VrrpDatagram>? _deliver;
            int _disposed;

            public IDisposable? Registration { get; set; }

            public IPAddress SourceAddress => shared._socket.SourceAddress;

            public IReadOnlyList<IPAddress> Destinations { get; } = unicastPeers.Count == 0 ? shared._socket.Destinations : [.. unicastPeers];

            // Before StartReceiving (and after its end) the speaker's messages are dropped: it is not listening yet.
            public void Deliver(VrrpDatagram datagram) => _deliver?.Invoke(datagram);

            public ValueTask SendAsync(ReadOnlyMemory<byte> vrrpMessage, IPAddress destination, CancellationToken ct) =>
                shared._socket.SendAsync(vrrpMessage, destination, ct);

            public IDisposable StartReceiving(Action<VrrpDatagram> deliver, Action<Exception> failed)
            {
                ArgumentNullException.ThrowIfNull(deliver);
                ArgumentNullException.ThrowIfNull(failed);
                lock (shared._failed) shared._failed.Add(failed);
                _deliver = deliver;
                return new Subscription(() =>
                {
                    _deliver = null;
                    lock (shared._failed) shared._failed.Remove(failed);
                });
            }

            public bool TryReceiveQueued(out VrrpDatagram datagram) => shared.TryReceiveQueuedFor(virtualRouterId, out datagram);

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
                _deliver = null;
                if (Registration is { } registration) shared._owner.Detach(shared, registration);
            }
        }

        sealed class Subscription(Action end) : IDisposable
        {
            int _ended;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _ended, 1) == 0) end();
            }
        }
    }
}
