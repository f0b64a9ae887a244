namespace NginxHa.Core.Resources;

/// <summary>An nginx load-balancing site: listeners, upstream servers and proxy settings.</summary>
public sealed class NginxBackendPool : Resource
{
    public NginxBackendPoolSpec Spec { get; set; } = new();
}

/// <summary>Filled in by the nginx renderer work (issue 3).</summary>
public sealed class NginxBackendPoolSpec
{
}
