using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using NginxHa.Core.Text;

namespace NginxHa.NodeAgent.Kubernetes;

/// <summary>
/// The agent's heartbeat: a coordination.k8s.io/v1 Lease <c>nginx-ha-agent-NODE</c>, holder NODE, renewed every quarter
/// of its duration (kubelet's node Lease ratio, 10 s of 40 s), so three renewals may fail before it expires. The operator
/// stops counting the node's status once the Lease expires: a SIGKILLed agent or a dead node writes no final status.
/// A Lease renewal is one small write that wakes only Lease watchers, not the NodeHaConfig ones. The last Lease read is
/// kept, so a renewal is one conditional PUT; a conflict or a missing Lease is read (or created) again at once.
/// With <see cref="Liveness"/>, a renewal is made only while every working loop of the agent (apply, each VRRP speaker)
/// has shown progress within the Lease duration: a hung loop lets the Lease expire as a dead agent would.
/// </summary>
public sealed class LeaseHeartbeat(KubeApiClient api, string ns, string node, TimeSpan duration, TimeProvider time, Action<string> log)
{
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(20);

    JsonObject? _known;
    bool _failing;
    bool _stalled;

    /// <summary>The agent's loops; null renews whatever they do (tests of the Lease alone).</summary>
    public Node.AgentLiveness? Liveness { get; init; }

    /// <summary>Ticks at which no renewal was made because a loop showed no progress.</summary>
    public int Withheld => Volatile.Read(ref _withheld);
    int _withheld;

    public string LeaseName { get; } = Core.Resources.ApiGroup.AgentLeasePrefix + node;
    public TimeSpan Duration => duration;
    public TimeSpan RenewInterval => duration / 4;

    /// <summary>Successful renewals (creations included).</summary>
    public int Renewals => Volatile.Read(ref _renewals);
    int _renewals;

    /// <summary>Renews now, then every <see cref="RenewInterval"/> until cancelled. API errors are logged once per outage.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // A fixed cadence from the start: a slow request does not push the next renewal later.
        using var ticks = new PeriodicTimer(RenewInterval, time);
        do
        {
            if (Withhold()) continue;
            try
            {
                await RenewAsync(cancellationToken);
                if (_failing) log($"heartbeat: Lease {ns}/{LeaseName} renewed again");
                _failing = false;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (!_failing) log($"heartbeat: renewing Lease {ns}/{LeaseName} failed, retrying every {RenewInterval.TotalSeconds:0.#} s: {SafeText.Escape(ex.Message, 300)}");
                _failing = true;
                _known = null;
            }
        }
        while (await WaitAsync(ticks, cancellationToken));
    }

    /// <summary>Asks the loops to show progress (answered before the next tick), then says whether one has shown none for a
    /// whole Lease duration: then this tick renews nothing.</summary>
    bool Withhold()
    {
        if (Liveness is not { } liveness) return false;
        liveness.RequestProbe();
        var stalled = liveness.Stalled(duration);
        if (stalled.Count == 0)
        {
            if (_stalled) log("heartbeat: every loop of the agent shows progress again; renewing");
            _stalled = false;
            return false;
        }
        if (!_stalled)
            log($"heartbeat: not renewing Lease {ns}/{LeaseName}: {string.Join(", ", stalled.Select(s => $"{s.Loop} has shown no progress for {s.Silent.TotalSeconds:0.#} s"))}; " +
                "the operator stops counting this node's status once the Lease expires");
        _stalled = true;
        Interlocked.Increment(ref _withheld);
        return true;
    }

    static async Task<bool> WaitAsync(PeriodicTimer ticks, CancellationToken cancellationToken)
    {
        try
        {
            return await ticks.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One renewal: replace the known Lease with renewTime now; read or create it when it is unknown, gone or moved.</summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (_known is null)
                {
                    _known = await api.GetLeaseAsync(ns, LeaseName, cancellationToken);
                    if (_known is null)
                    {
                        _known = await api.CreateLeaseAsync(ns, New(), cancellationToken);
                        Interlocked.Increment(ref _renewals);
                        log($"heartbeat: created Lease {ns}/{LeaseName} ({duration.TotalSeconds:0} s, renewed every {RenewInterval.TotalSeconds:0.#} s)");
                        return;
                    }
                }
                Stamp(_known);
                _known = await api.ReplaceLeaseAsync(ns, LeaseName, _known, cancellationToken);
                Interlocked.Increment(ref _renewals);
                return;
            }
            catch (KubeApiException ex) when (attempt == 0 && ex.Status is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                _known = null; // someone else wrote or deleted it: read it again and renew over it
            }
        }
    }

    JsonObject New()
    {
        var lease = new JsonObject
        {
            ["apiVersion"] = "coordination.k8s.io/v1",
            ["kind"] = "Lease", // an API server serving Lease as a CRD needs them in the body
            ["metadata"] = new JsonObject { ["name"] = LeaseName, ["namespace"] = ns },
            ["spec"] = new JsonObject(),
        };
        Stamp(lease);
        lease["spec"]!["acquireTime"] = lease["spec"]!["renewTime"]!.DeepClone();
        return lease;
    }

    void Stamp(JsonObject lease)
    {
        if (lease["spec"] is not JsonObject spec) lease["spec"] = spec = new JsonObject();
        if ((string?)spec["holderIdentity"] != node)
        {
            spec["holderIdentity"] = node;
            spec["acquireTime"] = MicroTime(time.GetUtcNow());
        }
        spec["leaseDurationSeconds"] = (int)Math.Ceiling(duration.TotalSeconds);
        spec["renewTime"] = MicroTime(time.GetUtcNow());
    }

    /// <summary>metav1.MicroTime: RFC 3339 with microseconds, UTC.</summary>
    public static string MicroTime(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
