using System.Net;

namespace NginxHa.Bench.FailoverProbe;

/// <summary>
/// What the client saw on the wire around the fault: the old master's last advert (to time the
/// fault), its priority-0 advert, the new master's first advert and the first ARP for the VIP.
/// </summary>
public sealed class WireObservations(IPAddress vip, IPAddress? oldMaster)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _nextAdvertFromMaster;
    private Action? _atNextAdvertFromMaster;
    private long _oldMasterPriorityZero;
    private long _newMasterFirstAdvert;
    private long _firstVipArp;

    public void Record(WireFrame frame, long arrival, long faultStart)
    {
        lock (_gate)
        {
            var fromOldMaster = oldMaster is not null && frame.Sender.Equals(oldMaster);
            if (frame.Kind == WireFrameKind.VrrpAdvert && fromOldMaster && frame.Priority > 0 && _nextAdvertFromMaster is { } next)
            {
                _nextAdvertFromMaster = null;
                var action = _atNextAdvertFromMaster;
                _atNextAdvertFromMaster = null;
                action?.Invoke();
                // The fault may have started inside the action: this advert came before it.
                faultStart = 0;
                next.TrySetResult();
            }
            if (faultStart == 0 || arrival < faultStart)
                return;
            switch (frame.Kind)
            {
                case WireFrameKind.VrrpAdvert when fromOldMaster && frame.Priority == 0 && _oldMasterPriorityZero == 0:
                    _oldMasterPriorityZero = arrival;
                    break;
                case WireFrameKind.VrrpAdvert when !fromOldMaster && frame.Priority > 0 && _newMasterFirstAdvert == 0:
                    _newMasterFirstAdvert = arrival;
                    break;
                // After the fault only the new master announces the VIP (the old one is dead, stopped or cut off).
                case WireFrameKind.Arp when frame.Sender.Equals(vip) && _firstVipArp == 0:
                    _firstVipArp = arrival;
                    break;
            }
        }
    }

    /// <summary>
    /// Completes with true on the old master's next advert after this call, false on timeout. <paramref name="atAdvert"/>
    /// runs on the capture thread as that advert is recorded, before anything else sees it.
    /// </summary>
    public async Task<bool> NextAdvertFromMaster(Action? atAdvert, TimeSpan timeout)
    {
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _nextAdvertFromMaster = next;
            _atNextAdvertFromMaster = atAdvert;
        }
        var finished = await Task.WhenAny(next.Task, Task.Delay(timeout)).ConfigureAwait(false);
        return finished == next.Task;
    }

    public string Describe(long faultStart)
    {
        lock (_gate)
        {
            return $"wire old_master_priority0_ms={Since(faultStart, _oldMasterPriorityZero)}"
                + $" new_master_advert_ms={Since(faultStart, _newMasterFirstAdvert)}"
                + $" vip_arp_ms={Since(faultStart, _firstVipArp)}";
        }
    }

    private static string Since(long faultStart, long at) =>
        at == 0 ? "-" : FailoverProbe.Milliseconds(faultStart, at);
}
