using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using NginxHa.Core.Resources;
using NginxHa.Core.Text;
using NginxHa.NodeAgent.Kubernetes;

namespace NginxHa.NodeAgent.Sources;

/// <summary>
/// Kubernetes mode's config source: this node's NodeHaConfig (list, then watch from the list's resourceVersion; a 410
/// or any failure re-lists after a backoff) and the Secrets its instances' authSecretRef name (read with each change,
/// and again whenever a watch ends). The last config handed over is kept on disk and handed over first at start, so an
/// agent restarted during an API outage serves it. Status-only changes (same generation, same secrets) yield nothing.
/// </summary>
public sealed class KubernetesConfigSource(KubeApiClient api, string node, LastConfigStore? store, TimeProvider time, Action<string> log)
    : INodeConfigSource
{
    public static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>How long one watch runs before the server ends it (then the Secrets are read again and the watch renewed).</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Tests: the first watch starts from this resourceVersion instead of a list (a 410 then lists).</summary>
    internal string? InitialResourceVersion { get; init; }

    long? _generation;
    string? _secretsHash;

    /// <summary>The generation of the NodeHaConfig last handed over (observedGeneration of the status).</summary>
    public long? Generation => Volatile.Read(ref _generationBox)?.Value;
    StrongBox<long>? _generationBox;

    public async IAsyncEnumerable<NodeConfigEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var events = Channel.CreateUnbounded<NodeConfigEvent>();
        if (store?.Load(log) is { } last)
        {
            var secrets = new NodeSecrets(last.VrrpAuth.ToDictionary(p => p.Key, p => (ReadOnlyMemory<byte>)Convert.FromBase64String(p.Value)));
            Remember(last.Generation, Hash(secrets));
            log($"kubernetes: starting from the last applied config (generation {last.Generation}, {store.Path}) until the API server answers");
            yield return new NodeConfigUpdate(last.Config, secrets, $"the last applied config (generation {last.Generation}) from {store.Path}");
        }
        var follower = FollowAsync(events.Writer, cancellationToken);
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(cancellationToken)) yield return e;
        }
        finally
        {
            await follower.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    async Task FollowAsync(ChannelWriter<NodeConfigEvent> events, CancellationToken cancellationToken)
    {
        var backoff = InitialBackoff;
        string? resourceVersion = InitialResourceVersion;
        NodeHaConfigObject? current = null;
        bool waitingLogged = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    (current, resourceVersion) = await api.ListNodeHaConfigAsync(node, cancellationToken);
                    if (current is null && !waitingLogged)
                    {
                        log($"kubernetes: no NodeHaConfig \"{node}\" yet; waiting for the operator to write one");
                        waitingLogged = true;
                    }
                    await OfferAsync(events, current, "list", cancellationToken);
                }
                await foreach (var e in api.WatchNodeHaConfigAsync(node, resourceVersion, WatchTimeout, cancellationToken))
                {
                    backoff = InitialBackoff;
                    if (e.Type == "ERROR")
                    {
                        // 410 Gone: our resourceVersion is older than the server keeps; list again for the current state.
                        log($"kubernetes: watch error {e.Code}: {SafeText.Escape(e.Message ?? "", 300)}; listing again");
                        resourceVersion = null;
                        if (e.Code != 410) throw new KubeApiException((System.Net.HttpStatusCode)(e.Code ?? 500), e.Message ?? "watch error");
                        break;
                    }
                    if (e.ResourceVersion is { Length: > 0 } rv) resourceVersion = rv;
                    if (e.Type is "ADDED" or "MODIFIED") current = e.Object;
                    else if (e.Type == "DELETED") current = null;
                    else continue;
                    await OfferAsync(events, current, $"NodeHaConfig {node} {e.Type.ToLowerInvariant()}", cancellationToken);
                }
                // The watch ended (timeout): read the Secrets again, then renew it.
                if (resourceVersion is not null) await OfferAsync(events, current, "Secrets read again", cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The API server unreachable: what runs keeps running; list again once it answers.
                log($"kubernetes: {ex.GetType().Name}: {SafeText.Escape(ex.Message, 300)}; listing again in {backoff.TotalSeconds:0.#} s");
                resourceVersion = null;
                try
                {
                    await Task.Delay(backoff, time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
        events.TryComplete();
    }

    /// <summary>Hands over the object with its Secrets, unless it is what was last handed over.</summary>
    async Task OfferAsync(ChannelWriter<NodeConfigEvent> events, NodeHaConfigObject? obj, string reason, CancellationToken cancellationToken)
    {
        if (obj is null)
        {
            // Deleted (or gone while we were away): the operator withdrew every VIP from this node. Nothing handed over
            // yet: nothing to withdraw, keep waiting.
            if (_generation is null) return;
            _generation = null;
            _secretsHash = null;
            store?.Delete();
            var none = new NodeHaConfig { Metadata = { Name = node }, Spec = { NodeName = node } };
            await events.WriteAsync(new NodeConfigUpdate(none, NodeSecrets.None, $"{reason}: no NodeHaConfig \"{node}\": nothing to serve"), cancellationToken);
            return;
        }
        var problems = new List<string>();
        var auth = new Dictionary<string, ReadOnlyMemory<byte>>();
        var read = new Dictionary<(string, string), IReadOnlyDictionary<string, byte[]>?>();
        foreach (var instance in obj.Config.Spec.VrrpInstances)
        {
            if (instance.AuthSecretRef is not { } reference) continue;
            if (!read.TryGetValue((reference.Namespace, reference.Name), out var data))
                read[(reference.Namespace, reference.Name)] = data = await api.GetSecretDataAsync(reference.Namespace, reference.Name, cancellationToken);
            if (data is null)
                problems.Add($"NodeHaConfig {node}: {instance.Name}: authSecretRef: Secret {reference.Namespace}/{reference.Name} does not exist");
            else if (!data.TryGetValue(reference.Key, out var value))
                problems.Add($"NodeHaConfig {node}: {instance.Name}: authSecretRef: Secret {reference.Namespace}/{reference.Name} has no key \"{reference.Key}\"");
            else
                auth[instance.Name] = value;
        }
        var secrets = new NodeSecrets(auth);
        var hash = Hash(secrets);
        if (_generation == obj.Generation && _secretsHash == hash && problems.Count == 0) return; // status-only change, or nothing new
        if (problems.Count > 0)
        {
            _generation = null; // handed over again once the Secret is there
            await events.WriteAsync(new NodeConfigRejected(problems, reason), cancellationToken);
            return;
        }
        Remember(obj.Generation, hash);
        store?.Save(new LastAppliedConfig
        {
            Generation = obj.Generation,
            Config = obj.Config,
            VrrpAuth = auth.ToDictionary(p => p.Key, p => Convert.ToBase64String(p.Value.Span)),
        });
        await events.WriteAsync(new NodeConfigUpdate(obj.Config, secrets, $"{reason} (generation {obj.Generation})"), cancellationToken);
    }

    void Remember(long generation, string secretsHash)
    {
        _generation = generation;
        _secretsHash = secretsHash;
        Volatile.Write(ref _generationBox, new StrongBox<long>(generation));
    }

    static string Hash(NodeSecrets secrets)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, value) in secrets.VrrpAuth.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\0"));
            sha.AppendData(value.Span);
            sha.AppendData([0]);
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }
}
