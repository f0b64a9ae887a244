using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>
/// Maps the state machine's free-text transition reasons (which name addresses and priorities) to a bounded label value.
/// Pure; every reason <see cref="VrrpStateMachine"/> produces maps to a kind other than "other" (a test drives each one).
/// </summary>
public static class TransitionReasons
{
    public const string Startup = "startup";
    public const string MasterDown = "master_down";
    public const string HigherPriority = "higher_priority";
    public const string HigherAddress = "higher_address";
    public const string Fault = "fault";
    public const string FaultCleared = "fault_cleared";
    public const string Shutdown = "shutdown";
    public const string Other = "other";

    public static string Classify(string reason) => reason switch
    {
        _ when reason.StartsWith("startup while faulted", StringComparison.Ordinal) => Fault,
        _ when reason.StartsWith("startup", StringComparison.Ordinal) => Startup,
        _ when reason.StartsWith("master down timer expired", StringComparison.Ordinal) => MasterDown,
        _ when reason.StartsWith("higher priority advert", StringComparison.Ordinal) => HigherPriority,
        _ when reason.StartsWith("equal priority advert from higher address", StringComparison.Ordinal) => HigherAddress,
        _ when reason.StartsWith("fault cleared", StringComparison.Ordinal) => FaultCleared,
        _ when reason.StartsWith("fault", StringComparison.Ordinal) => Fault,
        _ when reason.StartsWith("shutdown", StringComparison.Ordinal) => Shutdown,
        _ => Other,
    };

    /// <summary>Every transition the state machine can make, with its reason kind: their series start at zero.</summary>
    public static readonly IReadOnlyList<(VrrpState From, VrrpState To, string Reason)> Possible =
    [
        (VrrpState.Initialize, VrrpState.Backup, Startup),
        (VrrpState.Initialize, VrrpState.Master, Startup),
        (VrrpState.Initialize, VrrpState.Fault, Fault),
        (VrrpState.Backup, VrrpState.Master, MasterDown),
        (VrrpState.Backup, VrrpState.Fault, Fault),
        (VrrpState.Backup, VrrpState.Initialize, Shutdown),
        (VrrpState.Master, VrrpState.Backup, HigherPriority),
        (VrrpState.Master, VrrpState.Backup, HigherAddress),
        (VrrpState.Master, VrrpState.Fault, Fault),
        (VrrpState.Master, VrrpState.Initialize, Shutdown),
        (VrrpState.Fault, VrrpState.Backup, FaultCleared),
        (VrrpState.Fault, VrrpState.Master, FaultCleared),
        (VrrpState.Fault, VrrpState.Initialize, Shutdown),
    ];

    /// <summary>The state's label value: lower case, as in the docs and alert rules.</summary>
    public static string Label(VrrpState state) => state switch
    {
        VrrpState.Initialize => "initialize",
        VrrpState.Backup => "backup",
        VrrpState.Master => "master",
        VrrpState.Fault => "fault",
        _ => "unknown",
    };
}
