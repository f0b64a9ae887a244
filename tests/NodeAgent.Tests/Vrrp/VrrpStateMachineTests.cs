using System.Net;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Vrrp.VrrpState;

namespace NginxHa.NodeAgent.Tests.Vrrp;

public sealed class VrrpStateMachineTests
{
    private const long Ms = TimeSpan.TicksPerMillisecond;
    private const string Self = "198.18.0.1";
    private const string Peer = "198.18.0.2";

    // Exact values of the RFC formulas for the priorities used below (256ths of a second are exact in ticks).
    private static readonly TimeSpan Skew100At1s = TimeSpan.FromTicks(6_093_750);      // 156/256 s
    private static readonly TimeSpan Down100At1s = TimeSpan.FromTicks(36_093_750);     // 3 s + 156/256 s
    private static readonly TimeSpan Down150At1s = TimeSpan.FromTicks(34_140_625);     // 3 s + 106/256 s

    private static readonly MonotonicTime T0 = TestClock.DefaultStart;
    private static readonly TimeSpan OneTick = TimeSpan.FromTicks(1);

    private readonly TestClock _time = new();

    private MonotonicTime Now => _time.Now;

    private VrrpStateMachine Machine(
        VrrpVersion version, byte priority, int intervalMs = 1000, bool preempt = true, int preemptDelayMs = 0,
        string self = Self) =>
        new(new VrrpInstanceConfig(
                version, 51, priority, TimeSpan.FromMilliseconds(intervalMs), IPAddress.Parse(self), preempt,
                TimeSpan.FromMilliseconds(preemptDelayMs)));

    private static VrrpAction Send(byte priority) => new VrrpAction.SendAdvertisement(priority);
    private static readonly VrrpAction Acquire = new VrrpAction.AcquireAddresses();
    private static readonly VrrpAction Release = new VrrpAction.ReleaseAddresses();
    private static VrrpAction Changed(VrrpState from, VrrpState to, string reason) => new VrrpAction.StateChanged(from, to, reason);

    private IReadOnlyList<VrrpAction> Advert(VrrpStateMachine machine, string source, byte priority, int intervalMs = 1000) =>
        machine.OnAdvertisementReceived(_time.Now, IPAddress.Parse(source), priority, TimeSpan.FromMilliseconds(intervalMs));

    /// <summary>Drives a fresh machine into <paramref name="target"/> the way a real driver would.</summary>
    private void Reach(VrrpStateMachine machine, VrrpState target)
    {
        switch (target)
        {
            case Initialize:
                break;
            case Backup:
                machine.Startup(_time.Now);
                if (machine.State == Master)
                    Advert(machine, "198.18.0.200", 255); // an owner yields only to an equal owner with a higher address
                break;
            case Master:
                machine.Startup(_time.Now);
                if (machine.State == Backup)
                {
                    _time.Set(machine.NextTimerDue!.Value);
                    machine.OnTimerFired(_time.Now);
                }
                break;
            case Fault:
                Reach(machine, Backup);
                machine.SetFault(_time.Now, true);
                break;
        }

        Assert.Equal(target, machine.State);
    }

    // ---- timing formulas ----

    public static TheoryData<VrrpVersion, byte, int, long, long> Timings => new()
    {
        // version, priority, interval ms, Skew_Time ticks, Master_Down_Interval ticks
        { VrrpVersion.V2, 100, 1000, 6_093_750, 36_093_750 },
        { VrrpVersion.V2, 100, 2000, 6_093_750, 66_093_750 },   // v2 skew ignores the interval (RFC 3768)
        { VrrpVersion.V2, 254, 1000, 78_125, 30_078_125 },
        { VrrpVersion.V2, 1, 1000, 9_960_937, 39_960_937 },     // 255/256 s truncated to ticks
        { VrrpVersion.V3, 100, 1000, 6_093_750, 36_093_750 },
        { VrrpVersion.V3, 100, 2000, 12_187_500, 72_187_500 },  // v3 skew scales with the interval (RFC 5798)
        { VrrpVersion.V3, 200, 100, 218_750, 3_218_750 },
        { VrrpVersion.V3, 1, 10, 99_609, 399_609 },             // 255 * 10 ms / 256 truncated to ticks
        { VrrpVersion.V3, 255, 1000, 39_062, 30_039_062 },
    };

    [Theory]
    [MemberData(nameof(Timings))]
    public void SkewTimeAndMasterDownInterval_FollowTheRfcFormulas(
        VrrpVersion version, byte priority, int intervalMs, long skewTicks, long downTicks)
    {
        var machine = Machine(version, priority, intervalMs);

        Assert.Equal(TimeSpan.FromMilliseconds(intervalMs), machine.MasterAdverInterval);
        Assert.Equal(TimeSpan.FromTicks(skewTicks), machine.SkewTime);
        Assert.Equal(TimeSpan.FromTicks(downTicks), machine.MasterDownInterval);
    }

    // ---- startup ----

    [Theory]
    [InlineData(VrrpVersion.V2, 1000)]
    [InlineData(VrrpVersion.V3, 1000)]
    [InlineData(VrrpVersion.V3, 50)]
    public void Startup_AsAddressOwner_SendsAcquiresAndIsMaster(VrrpVersion version, int intervalMs)
    {
        var machine = Machine(version, 255, intervalMs);

        var actions = machine.Startup(_time.Now);

        Assert.Equal([Send(255), Acquire, Changed(Initialize, Master, "startup as address owner (priority 255)")], actions);
        Assert.Equal(Master, machine.State);
        Assert.Equal(T0 + TimeSpan.FromMilliseconds(intervalMs), machine.NextTimerDue);
        Assert.Equal(IPAddress.Parse(Self), machine.CurrentMaster);
        Assert.Equal(1, machine.Transitions);
    }

    [Theory]
    [InlineData(VrrpVersion.V2, 100, 36_093_750)]
    [InlineData(VrrpVersion.V2, 254, 30_078_125)]
    [InlineData(VrrpVersion.V3, 100, 36_093_750)]
    [InlineData(VrrpVersion.V3, 254, 30_078_125)]
    public void Startup_NotOwner_IsBackupWithMasterDownTimer(VrrpVersion version, byte priority, long downTicks)
    {
        var machine = Machine(version, priority);

        var actions = machine.Startup(_time.Now);

        Assert.Equal([Changed(Initialize, Backup, "startup")], actions);
        Assert.Equal(Backup, machine.State);
        Assert.Equal(T0 + TimeSpan.FromTicks(downTicks), machine.NextTimerDue);
        Assert.Null(machine.CurrentMaster);
        Assert.Equal(1, machine.Transitions);
    }

    [Fact]
    public void Startup_Twice_ThrowsNamingTheState()
    {
        var machine = Machine(VrrpVersion.V3, 100);
        machine.Startup(_time.Now);

        var error = Assert.Throws<InvalidOperationException>(() => machine.Startup(_time.Now));
        Assert.Contains("Backup", error.Message);
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Initialize_IgnoresAdvertsAndTimers(VrrpVersion version)
    {
        var machine = Machine(version, 100);

        Assert.Empty(Advert(machine, Peer, 200));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(machine.OnTimerFired(_time.Now));
        Assert.Equal(Initialize, machine.State);
        Assert.Null(machine.NextTimerDue);
        Assert.Null(machine.CurrentMaster);
        Assert.Equal(0, machine.Transitions);
    }

    // ---- backup ----

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Backup_BecomesMaster_ExactlyAtMasterDownInterval(VrrpVersion version)
    {
        var machine = Machine(version, 100);
        machine.Startup(_time.Now);

        _time.Advance(Down100At1s - OneTick);
        Assert.Empty(machine.OnTimerFired(_time.Now));
        Assert.Equal(Backup, machine.State);

        _time.Advance(OneTick);
        var actions = machine.OnTimerFired(_time.Now);

        Assert.Equal([Send(100), Acquire, Changed(Backup, Master, "master down timer expired")], actions);
        Assert.Equal(Master, machine.State);
        Assert.Equal(T0 + Down100At1s + TimeSpan.FromSeconds(1), machine.NextTimerDue);
        Assert.Equal(IPAddress.Parse(Self), machine.CurrentMaster);
        Assert.Equal(2, machine.Transitions);
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Backup_AdvertsFromBetterMaster_KeepPushingTheTimerOut(VrrpVersion version)
    {
        var machine = Machine(version, 100);
        machine.Startup(_time.Now);

        for (var second = 1; second <= 10; second++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.Empty(machine.OnTimerFired(_time.Now));
            Assert.Empty(Advert(machine, Peer, 200));
            Assert.Equal(Now + Down100At1s, machine.NextTimerDue);
        }

        Assert.Equal(Backup, machine.State);
        Assert.Equal(IPAddress.Parse(Peer), machine.CurrentMaster);
        Assert.Equal(1, machine.Transitions);
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Backup_PriorityZero_TakesOverAfterSkewTime(VrrpVersion version)
    {
        var machine = Machine(version, 100);
        machine.Startup(_time.Now);
        _time.Advance(TimeSpan.FromSeconds(1));
        Advert(machine, Peer, 200);
        _time.Advance(TimeSpan.FromMilliseconds(500));

        Assert.Empty(Advert(machine, Peer, 0));

        var resignedAt = Now;
        Assert.Equal(resignedAt + Skew100At1s, machine.NextTimerDue);
        Assert.Null(machine.CurrentMaster);

        _time.Advance(Skew100At1s - OneTick);
        Assert.Empty(machine.OnTimerFired(_time.Now));
        Assert.Equal(Backup, machine.State);

        _time.Advance(OneTick);
        Assert.Equal([Send(100), Acquire, Changed(Backup, Master, "the master resigned with priority 0; Skew_Time expired")], machine.OnTimerFired(_time.Now));
        Assert.Equal(resignedAt + Skew100At1s + TimeSpan.FromSeconds(1), machine.NextTimerDue);
    }

    [Fact]
    public void Advert_after_a_resignation_restores_the_master_down_timer_and_its_reason()
    {
        var machine = Machine(VrrpVersion.V3, 100);
        machine.Startup(_time.Now);
        Advert(machine, Peer, 200);
        Advert(machine, Peer, 0);
        Advert(machine, Peer, 200); // the master came back before Skew_Time ran out

        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal([Send(100), Acquire, Changed(Backup, Master, "master down timer expired")], machine.OnTimerFired(_time.Now));
    }

    public static TheoryData<VrrpVersion, long, long> IntervalLearning => new()
    {
        // version, Master_Adver_Interval ticks after a 100 ms advert, Master_Down_Interval ticks
        { VrrpVersion.V3, 100 * Ms, 3_609_375 },  // 300 ms + 156 * 100 ms / 256
        { VrrpVersion.V2, 1000 * Ms, 36_093_750 }, // v2 never learns: configured 1 s
    };

    [Theory]
    [MemberData(nameof(IntervalLearning))]
    public void Backup_LearnsMasterAdverInterval_OnlyInV3(VrrpVersion version, long learnedTicks, long downTicks)
    {
        var machine = Machine(version, 100, intervalMs: 1000);
        machine.Startup(_time.Now);
        _time.Advance(TimeSpan.FromMilliseconds(250));

        Assert.Empty(Advert(machine, Peer, 200, intervalMs: 100));

        Assert.Equal(TimeSpan.FromTicks(learnedTicks), machine.MasterAdverInterval);
        Assert.Equal(TimeSpan.FromTicks(downTicks), machine.MasterDownInterval);
        var expectedDue = Now + TimeSpan.FromTicks(downTicks);
        Assert.Equal(expectedDue, machine.NextTimerDue);

        // The fast master falls silent: we take over at the learned Master_Down_Interval, then advertise at our own 1 s.
        _time.Set(expectedDue);
        Assert.Equal([Send(100), Acquire, Changed(Backup, Master, "master down timer expired")], machine.OnTimerFired(_time.Now));
        Assert.Equal(TimeSpan.FromSeconds(1), machine.MasterAdverInterval);
        Assert.Equal(expectedDue + TimeSpan.FromSeconds(1), machine.NextTimerDue);
    }

    public static TheoryData<VrrpVersion, bool, byte, bool> PreemptCases => new()
    {
        // version, preempt, advert priority (local 150), advert accepted (timer reset)
        { VrrpVersion.V2, true, 100, false },
        { VrrpVersion.V2, true, 150, true },
        { VrrpVersion.V2, true, 200, true },
        { VrrpVersion.V2, false, 100, true },
        { VrrpVersion.V2, false, 200, true },
        { VrrpVersion.V3, true, 100, false },
        { VrrpVersion.V3, true, 149, false },
        { VrrpVersion.V3, true, 150, true },
        { VrrpVersion.V3, true, 200, true },
        { VrrpVersion.V3, false, 100, true },
        { VrrpVersion.V3, false, 1, true },
    };

    [Theory]
    [MemberData(nameof(PreemptCases))]
    public void Backup_Preempt_DiscardsLowerPriorityMasterOnlyWhenPreempting(
        VrrpVersion version, bool preempt, byte advertPriority, bool accepted)
    {
        var machine = Machine(version, 150, preempt: preempt);
        machine.Startup(_time.Now);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Empty(Advert(machine, Peer, advertPriority));

        Assert.Equal(Backup, machine.State);
        if (accepted)
        {
            Assert.Equal(Now + Down150At1s, machine.NextTimerDue);
            Assert.Equal(IPAddress.Parse(Peer), machine.CurrentMaster);
        }
        else
        {
            Assert.Equal(T0 + Down150At1s, machine.NextTimerDue);
            Assert.Null(machine.CurrentMaster);
            _time.Set(T0 + Down150At1s);
            Assert.Equal([Send(150), Acquire, Changed(Backup, Master, "master down timer expired")], machine.OnTimerFired(_time.Now));
        }
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Backup_PreemptDelay_FollowsLowerMasterUntilTheDelayEnds(VrrpVersion version)
    {
        var machine = Machine(version, 150, preemptDelayMs: 10_000);
        var delayEnds = T0 + TimeSpan.FromSeconds(10);
        machine.Startup(_time.Now);

        Assert.Equal(delayEnds, machine.PreemptDelayDue);
        Assert.Equal(T0 + Down150At1s, machine.NextTimerDue);

        for (var second = 1; second <= 9; second++)
        {
            _time.Set(T0 + TimeSpan.FromSeconds(second));
            Assert.Empty(machine.OnTimerFired(_time.Now));
            Assert.Empty(Advert(machine, Peer, 100));
            Assert.Equal(IPAddress.Parse(Peer), machine.CurrentMaster);
            var masterDown = Now + Down150At1s;
            Assert.Equal(masterDown < delayEnds ? masterDown : delayEnds, machine.NextTimerDue);
        }

        _time.Set(delayEnds - OneTick);
        Assert.Empty(machine.OnTimerFired(_time.Now));
        Assert.Equal(delayEnds, machine.PreemptDelayDue);

        _time.Set(delayEnds);
        Assert.Empty(machine.OnTimerFired(_time.Now));
        Assert.Null(machine.PreemptDelayDue);
        var lastAcceptedDown = T0 + TimeSpan.FromSeconds(9) + Down150At1s;
        Assert.Equal(lastAcceptedDown, machine.NextTimerDue);

        // Preemption resumes: the lower master's adverts no longer hold the timer back.
        Assert.Empty(Advert(machine, Peer, 100));
        _time.Set(T0 + TimeSpan.FromSeconds(11));
        Assert.Empty(Advert(machine, Peer, 100));
        Assert.Equal(lastAcceptedDown, machine.NextTimerDue);

        _time.Set(lastAcceptedDown);
        Assert.Equal([Send(150), Acquire, Changed(Backup, Master, "master down timer expired")], machine.OnTimerFired(_time.Now));
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Backup_PreemptDelay_IsIgnoredWithoutPreempt(VrrpVersion version)
    {
        var machine = Machine(version, 150, preempt: false, preemptDelayMs: 10_000);
        machine.Startup(_time.Now);

        Assert.Null(machine.PreemptDelayDue);
        Assert.Equal(T0 + Down150At1s, machine.NextTimerDue);
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Backup_PreemptDelay_RestartsWhenFaultClears(VrrpVersion version)
    {
        var machine = Machine(version, 150, preemptDelayMs: 10_000);
        machine.Startup(_time.Now);
        _time.Set(T0 + TimeSpan.FromSeconds(1));
        machine.SetFault(_time.Now, true);
        Assert.Null(machine.PreemptDelayDue);

        _time.Set(T0 + TimeSpan.FromSeconds(30));
        Assert.Equal([Changed(Fault, Backup, "fault cleared")], machine.SetFault(_time.Now, false));
        Assert.Equal(T0 + TimeSpan.FromSeconds(40), machine.PreemptDelayDue);
        Assert.Equal(T0 + TimeSpan.FromSeconds(30) + Down150At1s, machine.NextTimerDue);

        _time.Set(T0 + TimeSpan.FromSeconds(31));
        Assert.Empty(Advert(machine, Peer, 100));
        Assert.Equal(IPAddress.Parse(Peer), machine.CurrentMaster);
        Assert.Equal(Now + Down150At1s, machine.NextTimerDue);
    }

    // ---- arrival time ----

    [Fact]
    public void Backup_counts_master_down_interval_from_the_adverts_arrival()
    {
        var machine = Machine(VrrpVersion.V2, 100);
        Reach(machine, Backup);
        _time.Advance(TimeSpan.FromSeconds(1));
        var arrived = Now - TimeSpan.FromMilliseconds(3); // the packet waited 3 ms before it reached the machine

        Assert.Empty(machine.OnAdvertisementReceived(_time.Now, IPAddress.Parse(Peer), 200, TimeSpan.FromSeconds(1), arrived));

        Assert.Equal(arrived + Down100At1s, machine.NextTimerDue);
    }

    [Fact]
    public void Backup_counts_skew_time_from_a_resigning_masters_arrival()
    {
        var machine = Machine(VrrpVersion.V2, 100);
        Reach(machine, Backup);
        var arrived = Now - TimeSpan.FromMilliseconds(2);

        machine.OnAdvertisementReceived(_time.Now, IPAddress.Parse(Peer), 0, TimeSpan.FromSeconds(1), arrived);

        Assert.Equal(arrived + Skew100At1s, machine.NextTimerDue);
    }

    [Fact]
    public void An_arrival_time_in_the_future_counts_as_now()
    {
        var machine = Machine(VrrpVersion.V2, 100);
        Reach(machine, Backup);

        machine.OnAdvertisementReceived(_time.Now, IPAddress.Parse(Peer), 200, TimeSpan.FromSeconds(1), Now + TimeSpan.FromSeconds(5));

        Assert.Equal(Now + Down100At1s, machine.NextTimerDue);
    }

    [Fact]
    public void Master_answering_a_resignation_schedules_its_next_advert_from_now_not_from_the_arrival()
    {
        var machine = Machine(VrrpVersion.V2, 200);
        Reach(machine, Master);

        var actions = machine.OnAdvertisementReceived(_time.Now, IPAddress.Parse(Peer), 0, TimeSpan.FromSeconds(1), Now - TimeSpan.FromMilliseconds(40));

        Assert.Equal([Send(200)], actions);
        Assert.Equal(Now + TimeSpan.FromSeconds(1), machine.NextTimerDue); // the advert goes out now
    }

    [Fact]
    public void Master_stepping_down_counts_master_down_interval_from_the_arrival()
    {
        var machine = Machine(VrrpVersion.V2, 100);
        Reach(machine, Master);
        var arrived = Now - TimeSpan.FromMilliseconds(1);

        machine.OnAdvertisementReceived(_time.Now, IPAddress.Parse(Peer), 200, TimeSpan.FromSeconds(1), arrived);

        Assert.Equal(Backup, machine.State);
        Assert.Equal(arrived + Down100At1s, machine.NextTimerDue);
    }

    // ---- master ----

    private VrrpStateMachine MasterByTimeout(VrrpVersion version, byte priority, string self = Self)
    {
        var machine = Machine(version, priority, self: self);
        Reach(machine, Master);
        return machine;
    }

    [Theory]
    [InlineData(VrrpVersion.V2, 1000)]
    [InlineData(VrrpVersion.V2, 3000)]
    [InlineData(VrrpVersion.V3, 100)]
    [InlineData(VrrpVersion.V3, 1000)]
    public void Master_AdverTimer_SendsEveryAdvertisementInterval(VrrpVersion version, int intervalMs)
    {
        var interval = TimeSpan.FromMilliseconds(intervalMs);
        var machine = Machine(version, 255, intervalMs);
        machine.Startup(_time.Now);

        for (var round = 1; round <= 3; round++)
        {
            _time.Set(T0 + round * interval - OneTick);
            Assert.Empty(machine.OnTimerFired(_time.Now));
            _time.Set(T0 + round * interval);
            Assert.Equal([Send(255)], machine.OnTimerFired(_time.Now));
            Assert.Equal(T0 + (round + 1) * interval, machine.NextTimerDue);
        }

        // A late driver sends once and restarts the timer from now.
        _time.Advance(interval * 2.5);
        Assert.Equal([Send(255)], machine.OnTimerFired(_time.Now));
        Assert.Equal(Now + interval, machine.NextTimerDue);
        Assert.Equal(Master, machine.State);
    }

    public static TheoryData<VrrpVersion, int, long, long> HigherPriorityCases => new()
    {
        // version, advert interval ms, learned Master_Adver_Interval ticks, Master_Down_Interval ticks (local priority 100)
        { VrrpVersion.V2, 1000, 1000 * Ms, 36_093_750 },
        { VrrpVersion.V3, 1000, 1000 * Ms, 36_093_750 },
        { VrrpVersion.V3, 100, 100 * Ms, 3_609_375 },
    };

    [Theory]
    [MemberData(nameof(HigherPriorityCases))]
    public void Master_ReceivesHigherPriority_ReleasesAndBecomesBackup(
        VrrpVersion version, int advertIntervalMs, long learnedTicks, long downTicks)
    {
        var machine = MasterByTimeout(version, 100);
        _time.Advance(TimeSpan.FromMilliseconds(300));

        var actions = Advert(machine, Peer, 200, advertIntervalMs);

        Assert.Equal([Release, Changed(Master, Backup, "higher priority advert from 198.18.0.2 (priority 200 > 100)")], actions);
        Assert.Equal(Backup, machine.State);
        Assert.Equal(TimeSpan.FromTicks(learnedTicks), machine.MasterAdverInterval);
        Assert.Equal(Now + TimeSpan.FromTicks(downTicks), machine.NextTimerDue);
        Assert.Equal(IPAddress.Parse(Peer), machine.CurrentMaster);
        Assert.Equal(3, machine.Transitions);
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Master_ReceivesLowerPriority_StaysAndAssertsItselfAtOnce(VrrpVersion version)
    {
        var machine = MasterByTimeout(version, 150);
        _time.Advance(TimeSpan.FromMilliseconds(300));

        Assert.Equal([Send(150), new VrrpAction.AnnounceAddresses()], Advert(machine, Peer, 149, 100));

        Assert.Equal(Master, machine.State);
        Assert.Equal(Now + TimeSpan.FromSeconds(1), machine.NextTimerDue);
        Assert.Equal(TimeSpan.FromSeconds(1), machine.MasterAdverInterval);
        Assert.Equal(IPAddress.Parse(Self), machine.CurrentMaster);
    }

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Master_ReceivesPriorityZero_AdvertisesAtOnce(VrrpVersion version)
    {
        var machine = MasterByTimeout(version, 100);
        _time.Advance(TimeSpan.FromMilliseconds(400));

        Assert.Equal([Send(100)], Advert(machine, Peer, 0));

        Assert.Equal(Master, machine.State);
        Assert.Equal(Now + TimeSpan.FromSeconds(1), machine.NextTimerDue);
    }

    public static TheoryData<VrrpVersion, string, string, bool> TieBreaks => new()
    {
        // version, our address, advertiser address (equal priority), we yield
        { VrrpVersion.V2, "198.18.0.1", "198.18.0.2", true },
        { VrrpVersion.V2, "198.18.0.2", "198.18.0.1", false },
        { VrrpVersion.V2, "198.18.0.9", "198.18.0.10", true },    // numeric, not textual, order
        { VrrpVersion.V2, "198.18.0.10", "198.18.0.9", false },
        { VrrpVersion.V3, "198.18.0.255", "198.18.1.0", true },
        { VrrpVersion.V3, "198.18.1.0", "198.18.0.255", false },
        { VrrpVersion.V3, "198.19.0.1", "198.18.255.255", false },
        { VrrpVersion.V3, "fd00::1", "fd00::2", true },
        { VrrpVersion.V3, "fd00::2", "fd00::1", false },
        { VrrpVersion.V3, "fd00::ffff", "fd00::1:0", true },
        { VrrpVersion.V3, "fd00::1:0", "fd00::ffff", false },
        { VrrpVersion.V3, "fd00::1", "fd01::", true },
        { VrrpVersion.V3, "fdff::", "fd00::ffff:ffff", false },
        { VrrpVersion.V2, "198.18.0.1", "198.18.0.1", false },    // our own advert looped back: never yield to ourselves
        { VrrpVersion.V3, "fd00::1", "fd00::1", false },
    };

    [Theory]
    [MemberData(nameof(TieBreaks))]
    public void Master_EqualPriority_YieldsOnlyToHigherAddress(VrrpVersion version, string self, string peer, bool yields)
    {
        var machine = MasterByTimeout(version, 100, self);
        var due = machine.NextTimerDue;
        _time.Advance(TimeSpan.FromMilliseconds(200));

        var actions = Advert(machine, peer, 100);

        if (yields)
        {
            Assert.Equal([Release, Changed(Master, Backup, $"equal priority advert from higher address {peer} (priority 100)")], actions);
            Assert.Equal(Backup, machine.State);
            Assert.Equal(IPAddress.Parse(peer), machine.CurrentMaster);
            Assert.Equal(Now + Down100At1s, machine.NextTimerDue);
        }
        else if (self == peer)
        {
            Assert.Empty(actions); // our own advert
            Assert.Equal(Master, machine.State);
            Assert.Equal(due, machine.NextTimerDue);
        }
        else
        {
            // The lower address also acts as master: we assert ourselves at once.
            Assert.Equal([Send(100), new VrrpAction.AnnounceAddresses()], actions);
            Assert.Equal(Master, machine.State);
            Assert.Equal(IPAddress.Parse(self), machine.CurrentMaster);
            Assert.Equal(Now + TimeSpan.FromSeconds(1), machine.NextTimerDue);
        }
    }

    [Fact]
    public void Advert_FromOtherAddressFamily_IsRejectedNamingSource()
    {
        var machine = MasterByTimeout(VrrpVersion.V3, 100);

        var error = Assert.Throws<ArgumentException>(() => Advert(machine, "fd00::2", 200));
        Assert.Equal("source", error.ParamName);
        Assert.Equal(Master, machine.State);
    }

    [Fact]
    public void Advert_V3WithZeroInterval_IsRejectedNamingTheInterval()
    {
        var machine = Machine(VrrpVersion.V3, 100);
        machine.Startup(_time.Now);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Advert(machine, Peer, 200, intervalMs: 0));
        Assert.Equal("advertInterval", error.ParamName);
    }

    // ---- fault and shutdown from every state ----

    public static TheoryData<VrrpVersion, byte, VrrpState> EveryState
    {
        get
        {
            var data = new TheoryData<VrrpVersion, byte, VrrpState>();
            foreach (var version in new[] { VrrpVersion.V2, VrrpVersion.V3 })
                foreach (var priority in new byte[] { 100, 255 })
                    foreach (var state in new[] { Initialize, Backup, Master, Fault })
                        data.Add(version, priority, state);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(EveryState))]
    public void SetFault_FromEachState_ResignsAndRejoinsAsAtStartup(VrrpVersion version, byte priority, VrrpState from)
    {
        var machine = Machine(version, priority);
        Reach(machine, from);
        var transitionsBefore = machine.Transitions;
        _time.Advance(TimeSpan.FromMilliseconds(700));

        var entering = machine.SetFault(_time.Now, true);

        IReadOnlyList<VrrpAction> expectedEntering = from switch
        {
            Master => [Send(0), Release, Changed(Master, Fault, "fault: node cannot serve")],
            Backup => [Changed(Backup, Fault, "fault: node cannot serve")],
            _ => [],
        };
        Assert.Equal(expectedEntering, entering);
        var faultState = from == Initialize ? Initialize : Fault;
        Assert.Equal(faultState, machine.State);
        Assert.Null(machine.NextTimerDue);
        Assert.Null(machine.CurrentMaster);
        Assert.Equal(transitionsBefore + (from is Master or Backup ? 1 : 0), machine.Transitions);

        // While faulted: no adverts, no timers, never master.
        Assert.Empty(machine.SetFault(_time.Now, true));
        Assert.Empty(Advert(machine, Peer, 0));
        Assert.Empty(Advert(machine, Peer, 1));
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Empty(machine.OnTimerFired(_time.Now));
        Assert.Equal(faultState, machine.State);

        if (from == Initialize)
        {
            Assert.Equal([Changed(Initialize, Fault, "startup while faulted")], machine.Startup(_time.Now));
            Assert.Null(machine.NextTimerDue);
        }

        var leaving = machine.SetFault(_time.Now, false);

        if (priority == 255)
        {
            Assert.Equal([Send(255), Acquire, Changed(Fault, Master, "fault cleared as address owner (priority 255)")], leaving);
            Assert.Equal(Now + TimeSpan.FromSeconds(1), machine.NextTimerDue);
            Assert.Equal(IPAddress.Parse(Self), machine.CurrentMaster);
        }
        else
        {
            Assert.Equal([Changed(Fault, Backup, "fault cleared")], leaving);
            Assert.Equal(Now + Down100At1s, machine.NextTimerDue);
            Assert.Null(machine.CurrentMaster);
        }

        Assert.Empty(machine.SetFault(_time.Now, false));
    }

    [Theory]
    [MemberData(nameof(EveryState))]
    public void Shutdown_FromEachState_EndsInInitialize(VrrpVersion version, byte priority, VrrpState from)
    {
        var machine = Machine(version, priority);
        Reach(machine, from);
        var transitionsBefore = machine.Transitions;

        var actions = machine.Shutdown();

        IReadOnlyList<VrrpAction> expected = from switch
        {
            Master => [Send(0), Release, Changed(Master, Initialize, "shutdown")],
            Backup => [Changed(Backup, Initialize, "shutdown")],
            Fault => [Changed(Fault, Initialize, "shutdown")],
            _ => [],
        };
        Assert.Equal(expected, actions);
        Assert.Equal(Initialize, machine.State);
        Assert.Null(machine.NextTimerDue);
        Assert.Null(machine.CurrentMaster);
        Assert.Equal(transitionsBefore + (from == Initialize ? 0 : 1), machine.Transitions);
        Assert.Empty(machine.Shutdown());
        Assert.Empty(Advert(machine, Peer, 200));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(machine.OnTimerFired(_time.Now));

        // It can start again; a fault condition outlives the shutdown.
        var restart = machine.Startup(_time.Now);
        var expectedRestart = (from, priority) switch
        {
            (Fault, _) => Changed(Initialize, Fault, "startup while faulted"),
            (_, 255) => Changed(Initialize, Master, "startup as address owner (priority 255)"),
            _ => Changed(Initialize, Backup, "startup"),
        };
        Assert.Equal(expectedRestart, restart[^1]);
    }

    [Fact]
    public void Transitions_CountsEveryStateChange()
    {
        var machine = Machine(VrrpVersion.V3, 100);
        var changes = new List<VrrpAction>();

        changes.AddRange(machine.Startup(_time.Now));                      // Initialize -> Backup
        changes.AddRange(AdvanceAndFireOn(machine, Down100At1s)); // Backup -> Master
        changes.AddRange(AdvanceAndFireOn(machine, TimeSpan.FromSeconds(1))); // advert only
        changes.AddRange(Advert(machine, Peer, 200));             // Master -> Backup
        changes.AddRange(Advert(machine, Peer, 200));             // no change
        changes.AddRange(machine.SetFault(_time.Now, true));                 // Backup -> Fault
        changes.AddRange(machine.SetFault(_time.Now, false));                // Fault -> Backup
        changes.AddRange(machine.Shutdown());                     // Backup -> Initialize

        Assert.Equal(6, machine.Transitions);
        Assert.Equal(6, changes.OfType<VrrpAction.StateChanged>().Count());
    }

    private IReadOnlyList<VrrpAction> AdvanceAndFireOn(VrrpStateMachine machine, TimeSpan delta)
    {
        _time.Advance(delta);
        return machine.OnTimerFired(_time.Now);
    }
}
