using System.ComponentModel;

namespace NginxHa.Core.Resources;

/// <summary>A Kubernetes-style status condition (metav1.Condition).</summary>
public sealed class Condition
{
    [Description("Ready, Degraded or Conflict.")]
    public string Type { get; set; } = "";

    [Description("True, False or Unknown.")]
    public string Status { get; set; } = ConditionStatus.Unknown;

    [Description("CamelCase machine-readable reason.")]
    public string Reason { get; set; } = "";

    public string Message { get; set; } = "";

    public DateTimeOffset? LastTransitionTime { get; set; }

    public long? ObservedGeneration { get; set; }
}

public static class ConditionTypes
{
    /// <summary>The group's VIPs are planned on at least one node and its backend pool exists.</summary>
    public const string Ready = "Ready";
    /// <summary>Served, but with less redundancy or function than asked for.</summary>
    public const string Degraded = "Degraded";
    /// <summary>A VRID or virtual IP is also claimed by another group.</summary>
    public const string Conflict = "Conflict";
}

public static class ConditionStatus
{
    public const string True = "True";
    public const string False = "False";
    public const string Unknown = "Unknown";
}
