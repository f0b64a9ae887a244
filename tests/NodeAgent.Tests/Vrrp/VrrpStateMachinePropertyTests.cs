using System.Net;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>
/// Random event sequences on a fake clock, checked against invariants a driver relies on:
/// addresses are acquired at most once before each release, State == Master exactly while they are held,
/// every StateChanged starts from the state before it, and no timer is left overdue after OnTimerFired.
/// Seeds are fixed so a failure reproduces.
/// </summary>
public sealed class VrrpStateMachinePropertyTests
{
    private const int EventsPerRun = 600;

    public static TheoryData<int> Seeds
    {
        get
        {
            var seeds = new TheoryData<int>();
            for (var seed = 1; seed <= 40; seed++)
                seeds.Add(seed);
            return seeds;
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomEvents_KeepAddressOwnershipAndStateConsistent(int seed)
    {
        var random = new Random(seed);
        var version = random.Next(2) == 0 ? VrrpVersion.V2 : VrrpVersion.V3;
        var priority = random.Next(4) == 0 ? (byte)255 : (byte)random.Next(1, 255);
        var self = IPAddress.Parse("198.18.0.10");
        var interval = version == VrrpVersion.V2
            ? TimeSpan.FromSeconds(random.Next(1, 4))
            : TimeSpan.FromMilliseconds(10 * random.Next(1, 200));
        var config = new VrrpInstanceConfig(
            version, 7, priority, interval, self, Preempt: random.Next(2) == 0,
            PreemptDelay: TimeSpan.FromMilliseconds(random.Next(3) == 0 ? 0 : random.Next(1, 8000)));
        var time = new TestClock();
        var machine = new VrrpStateMachine(config);
        IPAddress[] peers = [IPAddress.Parse("198.18.0.9"), IPAddress.Parse("198.18.0.11"), IPAddress.Parse("198.18.0.200")];

        var acquired = false;
        long stateChanges = 0;
        var sawMaster = false;
        var sawBackup = false;

        void Apply(IReadOnlyList<VrrpAction> actions, string step)
        {
            var state = machine.State;
            // Replay from the state before the event: the first StateChanged names it.
            var changes = actions.OfType<VrrpAction.StateChanged>().ToList();
            if (changes.Count > 0)
                state = changes[0].From;

            foreach (var action in actions)
            {
                switch (action)
                {
                    case VrrpAction.AcquireAddresses:
                        Assert.False(acquired, $"{step}: AcquireAddresses twice without ReleaseAddresses");
                        acquired = true;
                        break;
                    case VrrpAction.ReleaseAddresses:
                        Assert.True(acquired, $"{step}: ReleaseAddresses without AcquireAddresses");
                        acquired = false;
                        break;
                    case VrrpAction.SendAdvertisement send when send.Priority == 0:
                        Assert.True(state == VrrpState.Master && acquired, $"{step}: priority 0 sent while not master");
                        break;
                    case VrrpAction.SendAdvertisement send:
                        Assert.Equal(priority, send.Priority);
                        break;
                    case VrrpAction.StateChanged change:
                        Assert.Equal(state, change.From);
                        Assert.NotEqual(change.From, change.To);
                        Assert.False(string.IsNullOrWhiteSpace(change.Reason));
                        state = change.To;
                        stateChanges++;
                        break;
                }
            }

            Assert.Equal(machine.State, state);
            Assert.True((machine.State == VrrpState.Master) == acquired, $"{step}: State {machine.State} but addresses held = {acquired}");
            Assert.Equal(stateChanges, machine.Transitions);
            Assert.Equal(machine.State is VrrpState.Master or VrrpState.Backup, machine.NextTimerDue is not null);
            Assert.Equal(machine.State == VrrpState.Master, Equals(machine.CurrentMaster, self));
            sawMaster |= machine.State == VrrpState.Master;
            sawBackup |= machine.State == VrrpState.Backup;
        }

        for (var step = 0; step < EventsPerRun; step++)
        {
            var roll = random.Next(100);
            var label = $"seed {seed} step {step}";
            if (machine.State == VrrpState.Initialize && roll < 30)
            {
                Apply(machine.Startup(time.Now), label + " Startup");
            }
            else if (roll < 30)
            {
                // The driver sleeps until the next timer (or a bit less/more) and fires.
                var due = machine.NextTimerDue ?? time.Now + TimeSpan.FromMilliseconds(random.Next(1, 3000));
                var jitter = TimeSpan.FromTicks(random.Next(-2, 3));
                var target = due + jitter;
                if (target > time.Now)
                    time.Set(target);
                Apply(machine.OnTimerFired(time.Now), label + " OnTimerFired");
                Assert.True(machine.NextTimerDue is null || machine.NextTimerDue > time.Now, $"{label}: a timer is still overdue");
            }
            else if (roll < 40)
            {
                time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 1500)));
            }
            else if (roll < 85)
            {
                var source = peers[random.Next(peers.Length)];
                byte advertPriority = random.Next(6) switch
                {
                    0 => 0,
                    1 => priority,
                    2 => (byte)Math.Max(1, priority - 1),
                    3 => (byte)Math.Min(255, priority + 1),
                    _ => (byte)random.Next(1, 256),
                };
                var advertInterval = version == VrrpVersion.V2 ? interval : TimeSpan.FromMilliseconds(10 * random.Next(1, 300));
                Apply(machine.OnAdvertisementReceived(time.Now, source, advertPriority, advertInterval), label + " Advert");
            }
            else if (roll < 96)
            {
                Apply(machine.SetFault(time.Now, random.Next(2) == 0), label + " SetFault");
            }
            else
            {
                Apply(machine.Shutdown(), label + " Shutdown");
            }
        }

        // The walk must have exercised both serving states, or the invariants above prove little.
        Assert.True(sawMaster, "never reached Master");
        Assert.True(sawBackup || priority == 255, "never reached Backup");
    }
}
