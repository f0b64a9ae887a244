using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Watchdog;

/// <summary>
/// The instances this agent runs, kept in <see cref="HandoverRecord"/> for the watchdog: an instance is written
/// before its speaker starts (so it is known before it can bind a VIP) and removed once it stopped.
/// </summary>
public sealed class HandoverBook(string stateDirectory, Action<string> log)
{
    readonly Dictionary<string, InstancePlan> _plans = new();

    public void Set(InstancePlan plan)
    {
        lock (_plans)
        {
            _plans[plan.Name] = plan;
            Write();
        }
    }

    public void Remove(string name)
    {
        lock (_plans)
            if (_plans.Remove(name)) Write();
    }

    void Write()
    {
        if (HandoverRecord.Write(stateDirectory, _plans.Values.ToList()) is { } problem) log($"warning: {problem}");
    }
}
