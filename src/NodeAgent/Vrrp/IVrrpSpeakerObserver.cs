using System.Net;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// What a <see cref="VrrpSpeaker"/> tells the outside (metrics, structured logs) as it happens. Called on the speaker's
/// event loop: implementations only count and must not block.
/// </summary>
public interface IVrrpSpeakerObserver
{
    void StateChanged(VrrpState from, VrrpState to, string reason);

    /// <summary>An advert left (priority 0 = we stopped participating).</summary>
    void AdvertSent(byte priority);

    /// <summary>A valid advert for this virtual router from another router, with our state before and after it.</summary>
    void AdvertAccepted(IPAddress source, byte priority, VrrpState before, VrrpState after);

    /// <summary>
    /// A received packet was discarded; <paramref name="advert"/> is the decoded message when it was well formed (the
    /// drop came from our configuration: another VRID, other VIPs, another password...), else null.
    /// </summary>
    void AdvertDropped(VrrpDropReason reason, IPAddress source, VrrpAdvertisement? advert);

    /// <summary>How many of the instance's VIPs are now bound on the interface.</summary>
    void AddressesBound(int count);

    /// <summary>Gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) sent, one per address.</summary>
    void Announced(int count);
}

/// <summary>Observes nothing: a speaker without metrics.</summary>
public sealed class NoSpeakerObserver : IVrrpSpeakerObserver
{
    public static readonly NoSpeakerObserver Instance = new();
    public void StateChanged(VrrpState from, VrrpState to, string reason) { }
    public void AdvertSent(byte priority) { }
    public void AdvertAccepted(IPAddress source, byte priority, VrrpState before, VrrpState after) { }
    public void AdvertDropped(VrrpDropReason reason, IPAddress source, VrrpAdvertisement? advert) { }
    public void AddressesBound(int count) { }
    public void Announced(int count) { }
}

/// <summary>Several observers of one speaker, called in order.</summary>
public sealed class SpeakerObservers(params IVrrpSpeakerObserver[] observers) : IVrrpSpeakerObserver
{
    public void StateChanged(VrrpState from, VrrpState to, string reason) { foreach (var o in observers) o.StateChanged(from, to, reason); }
    public void AdvertSent(byte priority) { foreach (var o in observers) o.AdvertSent(priority); }
    public void AdvertAccepted(IPAddress source, byte priority, VrrpState before, VrrpState after) { foreach (var o in observers) o.AdvertAccepted(source, priority, before, after); }
    public void AdvertDropped(VrrpDropReason reason, IPAddress source, VrrpAdvertisement? advert) { foreach (var o in observers) o.AdvertDropped(reason, source, advert); }
    public void AddressesBound(int count) { foreach (var o in observers) o.AddressesBound(count); }
    public void Announced(int count) { foreach (var o in observers) o.Announced(count); }
}
