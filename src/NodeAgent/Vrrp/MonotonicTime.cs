namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// A point on a clock that never jumps: <see cref="TimeProvider.GetTimestamp"/> in 100 ns ticks (the unit of
/// <see cref="TimeSpan"/>, so RFC intervals such as 156/256 s stay exact). The VRRP state machine takes every "now"
/// as one of these from its caller and holds no clock; <see cref="TimeProvider.System"/> gives CLOCK_MONOTONIC, which
/// an NTP step or `date -s` does not move, and a fake provider in tests gives its own time through the same call.
/// </summary>
public readonly record struct MonotonicTime(long Ticks) : IComparable<MonotonicTime>
{
    /// <summary>The provider's monotonic timestamp, converted from its <see cref="TimeProvider.TimestampFrequency"/>.</summary>
    public static MonotonicTime Now(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        long timestamp = time.GetTimestamp();
        long frequency = time.TimestampFrequency;
        if (frequency == TimeSpan.TicksPerSecond) return new(timestamp);
        // Whole seconds and the rest apart: timestamp * TicksPerSecond overflows after a few weeks of uptime at 1 GHz.
        return new(timestamp / frequency * TimeSpan.TicksPerSecond + timestamp % frequency * TimeSpan.TicksPerSecond / frequency);
    }

    public static MonotonicTime operator +(MonotonicTime at, TimeSpan by) => new(at.Ticks + by.Ticks);
    public static MonotonicTime operator -(MonotonicTime at, TimeSpan by) => new(at.Ticks - by.Ticks);
    public static TimeSpan operator -(MonotonicTime later, MonotonicTime earlier) => TimeSpan.FromTicks(later.Ticks - earlier.Ticks);
    public static bool operator <(MonotonicTime left, MonotonicTime right) => left.Ticks < right.Ticks;
    public static bool operator >(MonotonicTime left, MonotonicTime right) => left.Ticks > right.Ticks;
    public static bool operator <=(MonotonicTime left, MonotonicTime right) => left.Ticks <= right.Ticks;
    public static bool operator >=(MonotonicTime left, MonotonicTime right) => left.Ticks >= right.Ticks;

    public int CompareTo(MonotonicTime other) => Ticks.CompareTo(other.Ticks);

    public override string ToString() => $"monotonic {TimeSpan.FromTicks(Ticks)}";
}
