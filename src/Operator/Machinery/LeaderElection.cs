using k8s;
using k8s.Autorest;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;

namespace NginxHa.Operator.Machinery;

public sealed record LeaderElectionOptions(string Namespace, string LeaseName, string Identity)
{
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Between attempts after an API error. Capped as low as the informers' (<see cref="InformerOptions.ErrorBackoff"/>):
    /// the cap bounds how long after an API server's return this replica may wait to lead again.</summary>
    public Backoff ErrorBackoff { get; init; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), Jitter: 0.5);
}

/// <summary>
/// Runs <c>whileLeading</c> only while this replica holds the Lease, using KubernetesClient's LeaderElector:
/// <list type="bullet">
/// <item>in a retry loop of our own, because an API error escapes the elector's TryAcquireOrRenew and ends
/// RunAndTryToHoldLeadershipForeverAsync;</item>
/// <item>losing the Lease (OnStoppedLeading) cancels <c>whileLeading</c>'s token at once and waits for it to end
/// before trying to lead again, so two reconcile loops never overlap in this process;</item>
/// <item>on a clean shutdown the Lease is given up (its duration set to 1 s), so the next replica takes over in
/// about a second instead of a whole lease duration.</item>
/// </list>
/// </summary>
public sealed class LeaderElection(IKubernetes client, LeaderElectionOptions options, OperatorLog log, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private volatile bool _leading;

    public bool IsLeader => _leading;
    public string Identity => options.Identity;

    /// <summary>Leaderships won so far by this replica.</summary>
    public int Terms { get; private set; }

    public async Task RunAsync(Func<CancellationToken, Task> whileLeading, CancellationToken cancellationToken)
    {
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var leaseLock = new TypedLeaseLock(client, options.Namespace, options.LeaseName, options.Identity);
            leaseLock.OnHttpError += e => log.Debug($"leader election: Lease {options.Namespace}/{options.LeaseName}: {OperatorLog.Describe(e)}");
            using var elector = new LeaderElector(new LeaderElectionConfig(leaseLock)
            {
                LeaseDuration = options.LeaseDuration,
                RenewDeadline = options.RenewDeadline,
                RetryPeriod = options.RetryPeriod,
            });
            using var termCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task term = Task.CompletedTask;
            elector.OnStartedLeading += () =>
            {
                _leading = true;
                Terms++;
                failures = 0;
                log.Info($"leader election: {options.Identity} leads (Lease {options.Namespace}/{options.LeaseName})");
                term = Task.Run(() => whileLeading(termCts.Token), CancellationToken.None);
            };
            elector.OnStoppedLeading += () =>
            {
                if (!_leading) return;
                _leading = false;
                log.Info($"leader election: {options.Identity} stopped leading");
                termCts.Cancel();
            };
            elector.OnNewLeader += leader => log.Info($"leader election: the leader is {leader}");
            elector.OnError += e => log.Debug($"leader election: {OperatorLog.Describe(e)}");

            try
            {
                await elector.RunUntilLeadershipLostAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                failures++;
                log.Warn($"leader election: {OperatorLog.Describe(e)}");
            }
            finally
            {
                termCts.Cancel();
                await WaitQuietly(term).ConfigureAwait(false);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                if (elector.IsLeader()) await ReleaseAsync().ConfigureAwait(false);
                break;
            }
            if (failures > 0)
            {
                try { await Task.Delay(options.ErrorBackoff.Delay(failures), _time, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
        }
    }

    private async Task WaitQuietly(Task task)
    {
        try { await task.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        catch (Exception e) { log.Warn($"leader election: the reconcile loop ended with {OperatorLog.Describe(e)}"); }
    }

    /// <summary>Keeps our name as holder (the elector only recreates a Lease without one, and a create of an existing
    /// one fails) but shortens the duration to 1 s, so the next candidate's first renew takes over.</summary>
    private async Task ReleaseAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var lease = await client.CoordinationV1.ReadNamespacedLeaseAsync(options.LeaseName, options.Namespace, cancellationToken: cts.Token).ConfigureAwait(false);
            if (lease.Spec?.HolderIdentity != options.Identity) return;
            lease.Spec.LeaseDurationSeconds = 1;
            lease.Spec.RenewTime = _time.GetUtcNow().UtcDateTime.AddSeconds(-1);
            await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, options.LeaseName, options.Namespace, cancellationToken: cts.Token).ConfigureAwait(false);
            log.Info($"leader election: released Lease {options.Namespace}/{options.LeaseName}");
        }
        catch (Exception e) when (e is HttpOperationException or OperationCanceledException or HttpRequestException)
        {
            log.Warn($"leader election: could not release the Lease: {OperatorLog.Describe(e)}");
        }
    }
}

/// <summary>KubernetesClient's LeaseLock creates the Lease without apiVersion and kind; kube-apiserver fills them in
/// from the URL for a built-in type, but an API server serving Lease as a CRD (the test cluster) refuses the object.</summary>
internal sealed class TypedLeaseLock(IKubernetes client, string @namespace, string name, string identity)
    : LeaseLock(client, @namespace, name, identity)
{
    protected override Task<V1Lease> CreateMetaObjectAsync(IKubernetes client, V1Lease obj, string namespaceParameter, CancellationToken cancellationToken)
    {
        obj.ApiVersion = $"{V1Lease.KubeGroup}/{V1Lease.KubeApiVersion}";
        obj.Kind = V1Lease.KubeKind;
        return base.CreateMetaObjectAsync(client, obj, namespaceParameter, cancellationToken);
    }
}
