namespace NginxHa.NodeAgent.Vrrp;

/// <summary>Thread-safe count of discarded VRRP packets per <see cref="VrrpDropReason"/>.</summary>
public sealed class VrrpDropCounters
{
    private readonly long[] _counts = new long[(int)VrrpDropReasonExtensions.MaxValue + 1];

    /// <exception cref="ArgumentOutOfRangeException"><see cref="VrrpDropReason.Ok"/> or an undefined value.</exception>
    public void Increment(VrrpDropReason reason) => Interlocked.Increment(ref _counts[IndexOf(reason)]);

    public long this[VrrpDropReason reason] => Interlocked.Read(ref _counts[IndexOf(reason)]);

    public long Total
    {
        get
        {
            long total = 0;
            for (int i = 1; i < _counts.Length; i++)
            {
                total += Interlocked.Read(ref _counts[i]);
            }
            return total;
        }
    }

    /// <summary>Every drop reason with its count (zeros included, so metric series always exist).</summary>
    public IReadOnlyDictionary<VrrpDropReason, long> Snapshot()
    {
        var snapshot = new Dictionary<VrrpDropReason, long>(_counts.Length - 1);
        for (int i = 1; i < _counts.Length; i++)
        {
            snapshot[(VrrpDropReason)i] = Interlocked.Read(ref _counts[i]);
        }
        return snapshot;
    }

    private static int IndexOf(VrrpDropReason reason)
    {
        if (reason <= VrrpDropReason.Ok || reason > VrrpDropReasonExtensions.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(reason), reason, "Not a drop reason.");
        }
        return (int)reason;
    }
}
