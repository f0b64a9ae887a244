using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;
using NginxHa.NodeAgent.Vrrp;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// Changes RFC 5798 lets a router make while it runs (issue 12, section 5): a standalone pair on one manifest file, lb1
/// MASTER, takes a new advert interval, preempt setting, an added VIP and a new priority, each by rewriting the file.
/// Through each of them lb1 keeps its VIP: no priority-0 advert on the wire, no state change on either node, and lb1's
/// next adverts carry the new values.
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class InPlaceChangeTests(ITestOutputHelper output) : IDisposable
{
    const byte Vrid = 51;
    static readonly IPAddress Vip1 = IPAddress.Parse("198.18.0.201");
    static readonly IPAddress Vip2 = IPAddress.Parse("198.18.0.202");
    static readonly TimeSpan ChangeTimeout = TimeSpan.FromSeconds(10);

    readonly NetworkLab _network = NetworkLab.Create("ip", 2);
    readonly DisposableBag _owned = new();

    [Fact]
    public async Task A_master_keeps_its_vip_through_interval_preempt_added_vip_and_priority_changes()
    {
        var work = Directory.CreateTempSubdirectory("ip-inplace-").FullName;
        _owned.Own(new DeleteDirectory(work));
        File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
        var manifest = Path.Combine(work, "site.yaml");
        var lb1 = Own(new StandaloneNode("lb1", _network.Nodes[0], manifest, Path.Combine(work, "lb1")));
        var lb2 = Own(new StandaloneNode("lb2", _network.Nodes[1], manifest, Path.Combine(work, "lb2")));

        // lb0 is selected but never runs: lb1 (priority 253) becomes MASTER over lb2 (252) after Master_Down_Interval.
        var site = new Site(["lb0", "lb1", "lb2"], "100ms", Preempt: true, [$"{Vip1}/24"]);
        SeedManifest.WriteAtomically(manifest, site.Render(_network));
        var capture = Own(_network.Nodes[1].Run(() => PacketCapture.Open(_network.Nodes[1].InterfaceName)));
        var adverts = Own(new AdvertLog(capture, _network.Nodes[0].IPv4));

        var started = DateTimeOffset.UtcNow;
        lb1.Start();
        await lb1.Agent.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(30), started);
        lb2.Start();
        await lb2.Agent.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(30), started);
        await adverts.WaitForAsync(a => a.Priority == 253 && a.AdvertInterval == TimeSpan.FromMilliseconds(100), DateTimeOffset.UtcNow, ChangeTimeout);

        (string Change, Site Site, Func<VrrpAdvertisement, bool> Shows)[] changes =
        [
            ("advert interval 100ms -> 200ms", site = site with { Interval = "200ms" }, a => a.AdvertInterval == TimeSpan.FromMilliseconds(200)),
            ("preempt on -> off", site = site with { Preempt = false }, _ => true),
            ($"VIP {Vip2} added", site = site with { Vips = [.. site.Vips, $"{Vip2}/24"] }, a => a.Addresses.Contains(Vip2)),
            // lb0 leaves the selection: lb1 moves up to 254 (and lb2 to 253), both in place.
            ("priority 253 -> 254", site = site with { Nodes = ["lb1", "lb2"] }, a => a.Priority == 254),
        ];
        foreach (var (change, next, shows) in changes)
        {
            var since = DateTimeOffset.UtcNow;
            SeedManifest.WriteAtomically(manifest, next.Render(_network));
            foreach (var node in new[] { lb1, lb2 })
                await node.Agent.Process.WaitForLineAsync(l => l.Contains("edge/web/0: changed in place", StringComparison.Ordinal), ChangeTimeout, since);
            var seen = await adverts.WaitForAsync(shows, since, ChangeTimeout);
            // Eight more adverts: had lb2 dropped lb1's adverts, its Master_Down_Interval (3 intervals + skew) ran out meanwhile.
            await adverts.WaitForCountAsync(seen.At, 8, ChangeTimeout);

            var lines = lb1.Agent.Process.LinesSince(since).Concat(lb2.Agent.Process.LinesSince(since)).ToArray();
            Assert.DoesNotContain(adverts.Since(since), a => a.Priority == 0);
            Assert.DoesNotContain(lines, l => l.Contains(" -> ", StringComparison.Ordinal) && l.Contains("edge/web/0: ", StringComparison.Ordinal)
                && !l.Contains("changed in place", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("restarting", StringComparison.Ordinal) || l.Contains("dropped an advertisement", StringComparison.Ordinal));
            Assert.True(lb1.Holds(Vip1), $"{change}: lb1 lost {Vip1}\n{lb1.Output}");
            Assert.False(lb2.Holds(Vip1), $"{change}: lb2 holds {Vip1}\n{lb2.Output}");
            output.WriteLine($"{change}: lb1 still MASTER; first advert showing it {(seen.At - since).TotalMilliseconds:F0} ms after the write " +
                $"(priority {seen.Advert.Priority}, interval {seen.Advert.AdvertInterval.TotalMilliseconds} ms, {seen.Advert.Addresses.Count} VIP(s))");
        }
        Assert.True(lb1.Holds(Vip2), $"lb1 did not bind the added {Vip2}\n{lb1.Output}");
        Assert.False(lb2.Holds(Vip2));
        Assert.False(adverts.Since(started).Any(a => a.Priority == 0), "a priority-0 advert was sent");
    }

    /// <summary>The manifest: ActivePassive over <paramref name="Nodes"/> (by name, the first one preferred).</summary>
    sealed record Site(string[] Nodes, string Interval, bool Preempt, string[] Vips)
    {
        public string Render(NetworkLab lab)
        {
            var text = new StringBuilder();
            foreach (var (name, host) in new[] { ("lb0", "198.18.0.250"), ("lb1", lab.Nodes[0].IPv4.ToString()), ("lb2", lab.Nodes[1].IPv4.ToString()) })
            {
                string role = Nodes.Contains(name) ? "edge" : "spare";
                text.Append(CultureInfo.InvariantCulture, $"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{role: {role}}}}}\n" +
                    $"status: {{addresses: [{{type: InternalIP, address: {host}}}]}}\n---\n");
            }
            text.Append(CultureInfo.InvariantCulture, $"""
                apiVersion: nginx-ha.io/v1alpha1
                kind: NginxBackendPool
                metadata: {"{"}name: web, namespace: edge{"}"}
                spec:
                  listeners: [{"{"}port: 80{"}"}]
                  backends: {"{"}servers: [{"{"}address: 198.18.0.240, port: 8080{"}"}]{"}"}
                ---
                apiVersion: nginx-ha.io/v1alpha1
                kind: VirtualIpGroup
                metadata: {"{"}name: web, namespace: edge{"}"}
                spec:
                  mode: ActivePassive
                  virtualIPs: [{string.Join(", ", Vips)}]
                  nodeSelector: {"{"}matchLabels: {"{"}role: edge{"}"}{"}"}
                  interface: eth0
                  virtualRouterIds: [{Vrid}]
                  vrrp: {"{"}version: 3, advertisementInterval: {Interval}, preempt: {(Preempt ? "true" : "false")}{"}"}
                  backendPoolRef: web

                """);
            return text.ToString();
        }
    }

    /// <summary>Every VRRP advert of one source seen on the capture, with when it was read.</summary>
    sealed class AdvertLog : IDisposable
    {
        readonly ConcurrentQueue<(DateTimeOffset At, VrrpAdvertisement Advert)> _seen = new();
        readonly CancellationTokenSource _stop = new();
        readonly Task _reader;

        public AdvertLog(PacketCapture capture, IPAddress source)
        {
            _reader = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        var frame = await capture.NextAsync(f => Decode(f, source) is not null, TimeSpan.FromSeconds(1));
                        _seen.Enqueue((DateTimeOffset.UtcNow, Decode(frame, source)!));
                    }
                    catch (TimeoutException)
                    {
                    }
                    catch (Exception) when (_stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
            });
        }

        public IEnumerable<VrrpAdvertisement> Since(DateTimeOffset since) => _seen.Where(s => s.At >= since).Select(s => s.Advert);

        public async Task<(DateTimeOffset At, VrrpAdvertisement Advert)> WaitForAsync(Func<VrrpAdvertisement, bool> match, DateTimeOffset since, TimeSpan timeout)
        {
            var deadline = DateTimeOffset.UtcNow + timeout;
            while (true)
            {
                foreach (var seen in _seen)
                    if (seen.At >= since && match(seen.Advert)) return seen;
                if (DateTimeOffset.UtcNow > deadline)
                    throw new TimeoutException($"no matching advert within {timeout.TotalSeconds} s; last: " +
                        string.Join("; ", _seen.TakeLast(3).Select(s => $"priority {s.Advert.Priority} interval {s.Advert.AdvertInterval.TotalMilliseconds} ms VIPs {string.Join(" ", s.Advert.Addresses)}")));
                await Task.Delay(20);
            }
        }

        public async Task WaitForCountAsync(DateTimeOffset since, int count, TimeSpan timeout)
        {
            var deadline = DateTimeOffset.UtcNow + timeout;
            while (_seen.Count(s => s.At > since) < count)
            {
                if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException($"fewer than {count} adverts within {timeout.TotalSeconds} s");
                await Task.Delay(20);
            }
        }

        static VrrpAdvertisement? Decode(byte[] frame, IPAddress source)
        {
            if (frame.Length < 34 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[23] != 112) return null;
            int headerLength = (frame[14] & 0x0F) * 4;
            int totalLength = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(16));
            var from = new IPAddress(frame.AsSpan(26, 4));
            if (!from.Equals(source) || frame.Length < 14 + totalLength) return null;
            var to = new IPAddress(frame.AsSpan(30, 4));
            return VrrpPacket.TryRead(frame.AsSpan(14 + headerLength, totalLength - headerLength), from, to, out var advert) == VrrpDropReason.Ok
                && advert!.VirtualRouterId == Vrid ? advert : null;
        }

        public void Dispose()
        {
            _stop.Cancel();
            try { _reader.Wait(TimeSpan.FromSeconds(3)); } catch (AggregateException) { }
        }
    }

    sealed class DeleteDirectory(string path) : IDisposable
    {
        public void Dispose() => Directory.Delete(path, recursive: true);
    }

    T Own<T>(T owned) where T : IDisposable => _owned.Own(owned);

    public void Dispose()
    {
        // Agents first (they remove their VIPs), then the capture, the files and the namespaces.
        var failures = new List<Exception>();
        _owned.DisposeAll(failures);
        _network.Dispose();
        if (failures.Count > 0) throw new AggregateException("in-place change lab cleanup failed", failures);
    }
}
