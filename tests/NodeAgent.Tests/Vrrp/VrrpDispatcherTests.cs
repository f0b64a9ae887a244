using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Tests.Vrrp.VrrpTestPackets;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>One receive socket shared by the speakers of an interface: each message reaches the speaker of its VRID only.</summary>
public sealed class VrrpDispatcherTests
{
    readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
    readonly HeardRouters _heard;
    readonly VrrpDispatcher _dispatcher;
    readonly ConcurrentQueue<VrrpDatagram> _speakerA = new();
    readonly ConcurrentQueue<VrrpDatagram> _speakerB = new();

    public VrrpDispatcherTests()
    {
        _heard = new HeardRouters(_time);
        _dispatcher = new VrrpDispatcher(AddressFamily.InterNetwork, _heard);
    }

    static VrrpDatagram Datagram(byte vrid, byte priority = 100) =>
        new(SourceV4, GroupV4, 255, Encode(V3(AddressFamily.InterNetwork, vrid, priority)));

    static byte VridOf(VrrpDatagram d) => d.Message.Span[1];

    [Fact]
    public void Adverts_for_one_vrid_never_reach_the_speaker_of_another()
    {
        using var a = _dispatcher.Register(51, "instance a", _speakerA.Enqueue);
        using var b = _dispatcher.Register(52, "instance b", _speakerB.Enqueue);

        foreach (byte vrid in new byte[] { 51, 52, 51, 53, 52, 51 })
            _dispatcher.Dispatch(Datagram(vrid));

        Assert.Equal([51, 51, 51], _speakerA.Select(VridOf));
        Assert.Equal([52, 52], _speakerB.Select(VridOf));
    }

    [Fact]
    public void Heard_routers_see_every_vrid_on_the_wire_those_run_here_and_the_others()
    {
        using var a = _dispatcher.Register(51, "instance a", _speakerA.Enqueue);

        _dispatcher.Dispatch(Datagram(51));
        _dispatcher.Dispatch(Datagram(60));
        _dispatcher.Dispatch(Datagram(7));

        Assert.Equal([7, 51, 60], _heard.Snapshot().Select(h => h.VirtualRouterId));
        Assert.All(_heard.Snapshot(), h => Assert.Equal("IPv4", h.Family));
        Assert.Single(_speakerA);
    }

    [Fact]
    public void A_message_too_short_to_name_a_vrid_reaches_every_speaker_whose_checks_count_it()
    {
        using var a = _dispatcher.Register(51, "instance a", _speakerA.Enqueue);
        using var b = _dispatcher.Register(52, "instance b", _speakerB.Enqueue);

        _dispatcher.Dispatch(new VrrpDatagram(SourceV4, GroupV4, 255, new byte[] { 0x31 }));

        Assert.Single(_speakerA);
        Assert.Single(_speakerB);
        Assert.Empty(_heard.Snapshot());
    }

    [Fact]
    public void A_vrid_runs_once_per_socket_and_the_error_names_the_instance_that_has_it()
    {
        using var a = _dispatcher.Register(51, "instance a", _speakerA.Enqueue);

        var error = Assert.Throws<InvalidOperationException>(() => _dispatcher.Register(51, "instance b", _speakerB.Enqueue));

        Assert.Contains("VRID 51", error.Message);
        Assert.Contains("instance a", error.Message);
    }

    [Fact]
    public void After_a_speaker_leaves_its_vrid_goes_to_the_next_one_and_never_to_the_old()
    {
        var a = _dispatcher.Register(51, "instance a", _speakerA.Enqueue);
        _dispatcher.Dispatch(Datagram(51));
        a.Dispose();
        _dispatcher.Dispatch(Datagram(51));
        using var b = _dispatcher.Register(51, "instance b", _speakerB.Enqueue);
        a.Dispose(); // a second dispose must not unregister the new owner
        _dispatcher.Dispatch(Datagram(51));

        Assert.Single(_speakerA);
        Assert.Single(_speakerB);
    }

    [Fact]
    public void Before_a_due_timer_a_speaker_reads_the_kernel_queue_up_to_its_own_advert_and_the_others_get_theirs()
    {
        using var a = _dispatcher.Register(51, "instance a", _speakerA.Enqueue);
        using var b = _dispatcher.Register(52, "instance b", _speakerB.Enqueue);
        var kernel = new Queue<VrrpDatagram>([Datagram(52, priority: 10), Datagram(60), Datagram(51, priority: 200), Datagram(52, priority: 20)]);
        bool Read(out VrrpDatagram d) => kernel.TryDequeue(out d);

        Assert.True(_dispatcher.TryReceiveQueuedFor(51, Read, out var own));

        Assert.Equal(51, VridOf(own));
        Assert.Equal(200, own.Message.Span[2]);
        Assert.Equal([52], _speakerB.Select(VridOf));
        Assert.Equal(10, _speakerB.Single().Message.Span[2]);
        Assert.Empty(_speakerA); // its own advert is returned, not queued twice
        Assert.Single(kernel); // read no further than needed

        Assert.False(_dispatcher.TryReceiveQueuedFor(51, Read, out _));
        Assert.Equal([10, 20], _speakerB.Select(d => (int)d.Message.Span[2]));
        Assert.Equal([51, 52, 60], _heard.Snapshot().Select(h => h.VirtualRouterId));
    }
}
