using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>The "now" a test hands the state machine, which takes time as input and holds no clock.</summary>
public sealed class TestClock(MonotonicTime start)
{
    public static readonly MonotonicTime DefaultStart = new(TimeSpan.FromDays(1).Ticks);

    public TestClock() : this(DefaultStart) { }

    public MonotonicTime Now { get; private set; } = start;

    public void Advance(TimeSpan by) => Now += by;

    public void Set(MonotonicTime at) => Now = at;
}
