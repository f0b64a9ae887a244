using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Tests.Vrrp.VrrpTestPackets;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>
/// Random buffers and mutations of valid messages: TryRead must never throw, must stay fast, and
/// must accept only messages that our encoder could have produced (modulo fields ignored on reception).
/// </summary>
public class VrrpPacketFuzzTests
{
    private const int Seed = 5798;
    private const int Iterations = 300_000;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    [DllImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    private static extern int ClockGetTime(int clock, out Timespec time);

    private static TimeSpan ThreadCpuTime()
    {
        if (ClockGetTime(ClockThreadCpuTime, out var t) != 0)
            throw new InvalidOperationException($"clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: errno {Marshal.GetLastPInvokeError()}");
        return TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100);
    }

    private readonly record struct Sample(byte[] Message, IPAddress Source, IPAddress Destination);

    [Fact]
    public void MutatedAndRandomInputNeverThrowsAndIsBounded()
    {
        var random = new Random(Seed);
        var reasonsSeen = new Dictionary<VrrpDropReason, int>();
        var cpuBefore = ThreadCpuTime();

        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            Sample sample = Mutate(random, ValidSample(random));
            VrrpDropReason result;
            VrrpAdvertisement? advert;
            try
            {
                result = VrrpPacket.TryRead(sample.Message, sample.Source, sample.Destination, out advert);
            }
            catch (Exception error)
            {
                Assert.Fail($"iteration {iteration} (seed {Seed}) threw on {Convert.ToHexString(sample.Message)} from {sample.Source}: {error}");
                return;
            }
            reasonsSeen[result] = reasonsSeen.GetValueOrDefault(result) + 1;

            if (result == VrrpDropReason.Ok)
            {
                Assert.NotNull(advert);
                AssertReencodesToTheSameBytes(sample, advert, iteration);
            }
            else
            {
                Assert.Null(advert);
            }
        }
        var cpu = ThreadCpuTime() - cpuBefore;

        // This thread's CPU time, not the wall clock: other test projects on a busy 2-core machine stretch the wall
        // clock (32-107 s seen under load for 6 s of work), not the work. A quadratic or looping decoder blows 30 s.
        Assert.True(cpu < TimeSpan.FromSeconds(30), $"{Iterations} decodes took {cpu} of CPU");
        // The mutations must exercise the decoder's paths, not one early exit.
        VrrpDropReason[] mustSee =
        [
            VrrpDropReason.Ok, VrrpDropReason.Truncated, VrrpDropReason.LengthMismatch, VrrpDropReason.BadVersion,
            VrrpDropReason.BadType, VrrpDropReason.AddressFamilyMismatch, VrrpDropReason.ZeroAddressCount, VrrpDropReason.BadChecksum,
        ];
        Assert.All(mustSee, reason => Assert.True(reasonsSeen.GetValueOrDefault(reason) > 100, $"{reason} seen {reasonsSeen.GetValueOrDefault(reason)} times"));
    }

    private static Sample ValidSample(Random random)
    {
        int addressCount = random.Next(4) == 0 ? random.Next(1, 256) : random.Next(1, 5);
        var vrid = (byte)random.Next(1, 256);
        var priority = (byte)random.Next(256);
        VrrpAdvertisement advert = random.Next(4) switch
        {
            0 => V2(vrid, priority, random.Next(1, 256), addressCount),
            1 => V2(vrid, priority, random.Next(1, 256), addressCount, password: random.Next(1_000_000).ToString()),
            2 => V3(AddressFamily.InterNetwork, vrid, priority, random.Next(1, 4096), addressCount),
            _ => V3(AddressFamily.InterNetworkV6, vrid, priority, random.Next(1, 4096), addressCount),
        };
        (IPAddress source, IPAddress destination) = Endpoints(advert);
        return new Sample(Encode(advert), source, destination);
    }

    private static Sample Mutate(Random random, Sample valid)
    {
        byte[] message = valid.Message;
        switch (random.Next(9))
        {
            case 0: // untouched
                return valid;
            case 1: // bit flips
                message = (byte[])message.Clone();
                for (int flips = random.Next(1, 9); flips > 0; flips--)
                {
                    message[random.Next(message.Length)] ^= (byte)(1 << random.Next(8));
                }
                return valid with { Message = message };
            case 2: // truncation
                return valid with { Message = message[..random.Next(message.Length)] };
            case 3: // extension with random bytes
                byte[] extra = new byte[random.Next(1, 40)];
                random.NextBytes(extra);
                return valid with { Message = [.. message, .. extra] };
            case 4: // random address count, checksum repaired so the length logic is what decides
                message = (byte[])message.Clone();
                message[3] = (byte)random.Next(256);
                return valid with { Message = WithFixedChecksum(message, valid.Source, valid.Destination) };
            case 5: // random header bytes with a repaired checksum
                message = (byte[])message.Clone();
                message[random.Next(VrrpPacket.HeaderLength)] = (byte)random.Next(256);
                if (random.Next(2) == 0)
                {
                    message[0] = (byte)((random.Next(2, 4) << 4) | random.Next(16));
                }
                return valid with { Message = WithFixedChecksum(message, valid.Source, valid.Destination) };
            case 6: // wrong address family for the endpoints
                return random.Next(2) == 0
                    ? valid with { Source = SourceV6, Destination = GroupV6 }
                    : valid with { Source = SourceV4, Destination = random.Next(2) == 0 ? GroupV6 : GroupV4 };
            case 7: // zero count
                message = (byte[])message.Clone();
                message[3] = 0;
                return valid with { Message = message };
            default: // fully random buffer
                byte[] noise = new byte[random.Next(0, 64)];
                random.NextBytes(noise);
                return valid with { Message = noise };
        }
    }

    private static void AssertReencodesToTheSameBytes(Sample sample, VrrpAdvertisement advert, int iteration)
    {
        byte[] expected = (byte[])sample.Message.Clone();
        if (advert.Version == VrrpVersion.V3)
        {
            expected[4] &= 0x0F; // reserved bits: ignored on reception, zero on transmission
        }
        else if (advert.AuthType == VrrpAuthType.None)
        {
            expected.AsSpan(expected.Length - VrrpPacket.AuthDataLength).Clear(); // ignored without auth
        }
        else if (advert.AuthType == VrrpAuthType.IpAuthenticationHeader || advert.AuthData.Span.IndexOfAnyExcept((byte)0) < 0)
        {
            return; // decodable but not something we send (AH, or an all-zero password)
        }

        var buffer = new byte[expected.Length];
        VrrpAdvertisement reencodable = advert;
        if (advert.AuthType == VrrpAuthType.SimpleText)
        {
            // Trailing zeros are padding; keep the bytes up to the last non-zero one.
            int used = advert.AuthData.Span.LastIndexOfAnyExcept((byte)0) + 1;
            reencodable = advert with { AuthData = advert.AuthData[..used] };
        }
        int written = VrrpPacket.Write(buffer, reencodable, sample.Source, sample.Destination);
        if (!expected.AsSpan().SequenceEqual(sample.Message))
        {
            // Ignored fields were set, so the sender's checksum covers bytes we do not reproduce.
            expected.AsSpan(6, 2).Clear();
            buffer.AsSpan(6, 2).Clear();
        }
        Assert.True(expected.AsSpan().SequenceEqual(buffer.AsSpan(0, written)),
            $"iteration {iteration} (seed {Seed}): accepted {Convert.ToHexString(sample.Message)} re-encodes as {Convert.ToHexString(buffer, 0, written)}");
    }
}
