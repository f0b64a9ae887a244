using SharpPcap;
using SharpPcap.LibPcap;

namespace NginxHa.NodeAgent.Survey;

/// <summary>
/// The survey's I/O: libpcap (through SharpPcap) on a live interface or a capture file, filtered in the kernel to IP
/// protocol 112 over IPv4 and IPv6, each frame handed to a <see cref="VrrpSurvey"/>.
/// </summary>
public static class SurveyCapture
{
    /// <summary>BPF: VRRP over IPv4 and IPv6 (on IPv6 only as the first next header, which is how VRRP is sent).</summary>
    public const string Filter = "ip proto 112 or ip6 proto 112";

    const int ReadTimeoutMs = 100;

    /// <summary>Listens on <paramref name="interfaceName"/> for <paramref name="duration"/> (promiscuous: adverts to a
    /// multicast group this host has not joined are heard too).</summary>
    /// <exception cref="SurveyCaptureException">No such interface, or libpcap refuses to open it.</exception>
    public static void Listen(string interfaceName, TimeSpan duration, VrrpSurvey survey, CancellationToken cancel)
    {
        LibPcapLiveDevice device = Find(interfaceName);
        try
        {
            device.Open(new DeviceConfiguration { Mode = DeviceModes.Promiscuous, ReadTimeout = ReadTimeoutMs, Snaplen = 2048 });
        }
        catch (Exception ex) when (ex is PcapException or DllNotFoundException)
        {
            throw new SurveyCaptureException($"cannot capture on {interfaceName}: {ex.Message} (root or CAP_NET_RAW is needed)", ex);
        }
        try
        {
            Read(device, survey, DateTime.UtcNow + duration, cancel);
        }
        finally
        {
            device.Close();
        }
    }

    /// <summary>Reads a capture file (pcap or pcapng, as tcpdump/tshark write) through the same filter.</summary>
    public static void ReadFile(string path, VrrpSurvey survey)
    {
        if (!File.Exists(path)) throw new SurveyCaptureException($"--file {path}: no such file");
        using var device = new CaptureFileReaderDevice(path);
        try
        {
            device.Open();
        }
        catch (Exception ex) when (ex is PcapException or DllNotFoundException)
        {
            throw new SurveyCaptureException($"--file {path}: not a capture file libpcap can read ({ex.Message})", ex);
        }
        Read(device, survey, DateTime.MaxValue, CancellationToken.None);
    }

    static void Read(PcapDevice device, VrrpSurvey survey, DateTime until, CancellationToken cancel)
    {
        device.Filter = Filter;
        while (!cancel.IsCancellationRequested && DateTime.UtcNow < until)
        {
            switch (device.GetNextPacket(out PacketCapture capture))
            {
                case GetPacketStatus.PacketRead:
                    survey.Add((int)device.LinkType, capture.Data, capture.Header.Timeval.Date);
                    break;
                case GetPacketStatus.ReadTimeout:
                    break;
                case GetPacketStatus.NoRemainingPackets:
                    return;
                default:
                    throw new SurveyCaptureException($"capture on {device.Name} failed: {device.LastError}");
            }
        }
    }

    static LibPcapLiveDevice Find(string interfaceName)
    {
        LibPcapLiveDeviceList devices;
        try
        {
            devices = LibPcapLiveDeviceList.New();
        }
        catch (Exception ex) when (ex is PcapException or DllNotFoundException or TypeInitializationException)
        {
            throw new SurveyCaptureException($"libpcap is not usable ({ex.Message}); install libpcap0.8", ex);
        }
        return devices.FirstOrDefault(d => d.Name == interfaceName)
               ?? throw new SurveyCaptureException(
                   $"--interface {interfaceName}: no such interface here (libpcap sees: {string.Join(", ", devices.Select(d => d.Name))})");
    }
}

public sealed class SurveyCaptureException(string message, Exception? inner = null) : Exception(message, inner);
