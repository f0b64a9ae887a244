using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// Issue 12, section 3: the agent alone is killed (SIGKILL; nginx and the link live on). Its watchdog must take the
/// VIP off the host before the peer takes over, so that at no moment after the take-over do two hosts answer ARP
/// for the VIP. Seen from the client: it asks "who has VIP1" every 5 ms and captures every ARP frame for VIP1.
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class AgentCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    const ushort EtherTypeArp = 0x0806;
    readonly DualMasterLab _lab = new("ac");

    public Task InitializeAsync() => _lab.StartAsync();

    public Task DisposeAsync()
    {
        _lab.Dispose();
        return Task.CompletedTask;
    }

    sealed record ArpSeen(int Sequence, DateTimeOffset At, string SenderMac, ushort Operation);

    [Fact]
    public async Task Agent_killed_alone_takes_its_vip_off_the_host_so_two_hosts_never_answer_arp_for_it()
    {
        var node = _lab.Lb1;
        var peer = _lab.Lb2;
        var vip = DualMasterLab.Vip1;
        string nodeMac = NetworkLab.FormatMac(node.Node.Mac), peerMac = NetworkLab.FormatMac(peer.Node.Mac);
        Assert.True(node.Holds(vip), node.Output);
        int nginx = node.NginxMasterPid() ?? throw new InvalidOperationException($"no nginx on {node.Name}\n{node.Output}");

        using var capture = _lab.Client.Run(() => PacketCapture.Open(_lab.Client.InterfaceName));
        using var requester = _lab.Client.Run(() => OpenArpSocket(_lab.Client.InterfaceName));
        var seen = new ConcurrentQueue<ArpSeen>();
        using var stop = new CancellationTokenSource();
        var collector = Task.Run(() => CollectArpForAsync(capture, vip, seen, stop.Token));
        var asking = Task.Factory.StartNew(() => AskWhoHas(requester, vip, stop.Token), TaskCreationOptions.LongRunning);
        try
        {
            // Before the crash: the client's questions are answered by lb1, so the capture sees answers at all.
            await Eventually.Until(() => seen.Count(s => s.SenderMac == nodeMac && s.Operation == 2), n => n >= 3,
                TimeSpan.FromSeconds(3), $"{node.Name} answers ARP for {vip}");

            var killedAt = DateTimeOffset.UtcNow;
            node.Agent.Crash();
            var takeOver = await Eventually.Until(() => seen.FirstOrDefault(s => s.SenderMac == peerMac && s.At >= killedAt),
                s => s is not null, TimeSpan.FromSeconds(3), $"{peer.Name} announces or answers for {vip}");
            // Keep asking well past the take-over: an answer from the dead agent's host would come now.
            await Eventually.Until(() => seen.Count(s => s.SenderMac == peerMac && s.Operation == 2 && s.Sequence > takeOver!.Sequence),
                n => n >= 100, TimeSpan.FromSeconds(10), $"100 answers from {peer.Name} after its take-over");
            stop.Cancel();
            await Task.WhenAll(collector, asking);

            var lastFromNode = seen.LastOrDefault(s => s.SenderMac == nodeMac);
            output.WriteLine($"{node.Name} agent SIGKILL -> first ARP from {peer.Name} after {(takeOver!.At - killedAt).TotalMilliseconds:F1} ms; " +
                             $"last ARP from {node.Name} {(lastFromNode is null ? "none" : $"{(lastFromNode.At - killedAt).TotalMilliseconds:F1} ms")} after the kill; " +
                             $"{seen.Count} ARP frames for {vip}; killed at {killedAt:HH:mm:ss.ffffff}");
            foreach (var line in node.Output.Split('\n').Where(l => l.Contains("watchdog"))) output.WriteLine(line);
            var both = seen.Where(s => s.SenderMac == nodeMac && s.Sequence > takeOver.Sequence).ToList();
            Assert.True(both.Count == 0, $"{node.Name} still answered for {vip} after {peer.Name} took over: " +
                string.Join(", ", both.Take(5).Select(s => $"{(s.At - killedAt).TotalMilliseconds:F1} ms")) + $"\n{node.Output}");
            Assert.False(node.Holds(vip), $"{vip} still bound on {node.Name}\n{node.Output}");
            Assert.Equal(nginx, node.NginxMasterPid()); // nginx was not touched: only the agent died
            Assert.Contains("watchdog: edge/web/0: sent priority 0", node.Output);
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(collector, asking).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        }
    }

    static async Task CollectArpForAsync(PacketCapture capture, IPAddress vip, ConcurrentQueue<ArpSeen> seen, CancellationToken stop)
    {
        var sequence = 0;
        while (!stop.IsCancellationRequested)
        {
            byte[] frame;
            try
            {
                frame = await capture.NextAsync(f => SenderIs(f, vip), TimeSpan.FromMilliseconds(200));
            }
            catch (TimeoutException)
            {
                continue;
            }
            seen.Enqueue(new ArpSeen(++sequence, DateTimeOffset.UtcNow, Convert.ToHexString(frame.AsSpan(22, 6)).ToLowerInvariant()
                .Chunk(2).Select(c => new string(c)).Aggregate((a, b) => $"{a}:{b}"), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20))));
        }
    }

    /// <summary>An ARP frame (request or reply; gratuitous ARP included) whose sender protocol address is <paramref name="vip"/>.</summary>
    static bool SenderIs(byte[] frame, IPAddress vip) =>
        frame.Length >= 42 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == EtherTypeArp
        && frame.AsSpan(28, 4).SequenceEqual(vip.GetAddressBytes());

    void AskWhoHas(Socket socket, IPAddress vip, CancellationToken stop)
    {
        var mac = _lab.Client.Mac.GetAddressBytes();
        var frame = new byte[42];
        frame.AsSpan(0, 6).Fill(0xff);
        mac.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherTypeArp);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), 1);      // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 0x0800); // IPv4
        frame[18] = 6;
        frame[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), 1);      // request
        mac.CopyTo(frame, 22);
        _lab.Client.IPv4.GetAddressBytes().CopyTo(frame, 28);
        vip.GetAddressBytes().CopyTo(frame, 38);
        while (!stop.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(5)))
            socket.Send(frame);
    }

    static Socket OpenArpSocket(string interfaceName)
    {
        var socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(EtherTypeArp));
        socket.Bind(new PacketEndPoint((int)IfNameToIndex(interfaceName)));
        return socket;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "if_nametoindex", SetLastError = true)]
    static extern uint IfNameToIndex(string name);

    sealed class PacketEndPoint(int interfaceIndex) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize()
        {
            var address = new SocketAddress(AddressFamily.Packet, 20);
            BinaryPrimitives.WriteUInt16BigEndian(address.Buffer.Span[2..], EtherTypeArp);
            BinaryPrimitives.WriteInt32LittleEndian(address.Buffer.Span[4..], interfaceIndex);
            return address;
        }
    }
}
