using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;
using NginxHa.Core.Text;
using NginxHa.NodeAgent.Kubernetes;

namespace NginxHa.NodeAgent.Sources;

/// <summary>
/// Kubernetes mode's config source: this node's NodeHaConfig (list, then watch from the list's resourceVersion; a 410
/// or any failure re-lists after a backoff) and the Secrets it names: its instances' authSecretRef and its pools' TLS
/// Secrets (tls.crt and tls.key, checked to be PEM and to belong together). Each of those Secrets is watched on its own
/// (field selector metadata.name), so a replaced certificate is handed over at once; so are the basic-auth Secrets of
/// its pools' status endpoints (key "auth", an htpasswd file, checked); every Secret is also read again
/// with each change and whenever a watch ends. The last config handed over is kept on disk and handed over first at
/// start, so an agent restarted during an API outage serves it. Status-only changes (same generation, same secrets) and
/// a rejection repeated word for word yield nothing.
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

    /// <summary>What wakes the loop that hands configs over: the NodeHaConfig as last seen, or one of its Secrets changed.</summary>
    abstract record Trigger(string Reason);
    sealed record ObjectSeen(NodeHaConfigObject? Object, string Reason) : Trigger(Reason);
    sealed record SecretChanged(string Reason) : Trigger(Reason);

    long? _generation;
    bool _emptyHandedOver;
    string? _secretsHash;
    string? _lastRejection;
    readonly Dictionary<string, CancellationTokenSource> _secretWatches = new(StringComparer.Ordinal);

    public async IAsyncEnumerable<NodeConfigEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var events = Channel.CreateUnbounded<NodeConfigEvent>();
        if (store?.Load(log) is { } last)
        {
            var secrets = FromStore(last);
            Remember(last.Generation, Hash(secrets));
            log($"kubernetes: starting from the last applied config (generation {last.Generation}, {store.Path}) until the API server answers");
            yield return new NodeConfigUpdate(last.Config, secrets, $"the last applied config (generation {last.Generation}) from {store.Path}")
            {
                Generation = last.Generation,
            };
        }
        var triggers = Channel.CreateUnbounded<Trigger>();
        using var stopWatches = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var follower = FollowAsync(triggers.Writer, cancellationToken);
        var handing = HandOverAsync(triggers, events.Writer, stopWatches.Token);
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(cancellationToken)) yield return e;
        }
        finally
        {
            await stopWatches.CancelAsync();
            await follower.ContinueWith(_ => { }, TaskScheduler.Default);
            await handing.ContinueWith(_ => { }, TaskScheduler.Default);
            StopSecretWatches();
        }
    }

    NodeSecrets FromStore(LastAppliedConfig last)
    {
        var tls = new Dictionary<string, TlsKeyPair>(StringComparer.Ordinal);
        foreach (var (key, stored) in last.Tls)
        {
            var pair = TlsKeyPair.Check(Convert.FromBase64String(stored.Certificate), Convert.FromBase64String(stored.PrivateKey), out var problem);
            if (pair is null) log($"warning: {store?.Path}: TLS Secret {key}: {problem}; left out until the API server answers");
            else tls[key] = pair;
        }
        var htpasswd = new Dictionary<string, HtpasswdFile>(StringComparer.Ordinal);
        foreach (var (key, stored) in last.Htpasswd)
        {
            var file = HtpasswdFile.Check(Convert.FromBase64String(stored), out var problem);
            if (file is null) log($"warning: {store?.Path}: basic-auth Secret {key}: {problem}; left out until the API server answers");
            else htpasswd[key] = file;
        }
        return new NodeSecrets(last.VrrpAuth.ToDictionary(p => p.Key, p => (ReadOnlyMemory<byte>)Convert.FromBase64String(p.Value)))
        {
            Tls = tls, Htpasswd = htpasswd,
        };
    }

    /// <summary>The one loop that reads Secrets and hands configs over: triggers from every watch, in order.</summary>
    async Task HandOverAsync(Channel<Trigger> triggers, ChannelWriter<NodeConfigEvent> events, CancellationToken cancellationToken)
    {
        NodeHaConfigObject? current = null;
        bool listed = false;
        try
        {
            await foreach (var trigger in triggers.Reader.ReadAllAsync(cancellationToken))
            {
                if (trigger is ObjectSeen seen)
                {
                    current = seen.Object;
                    listed = true;
                }
                else if (!listed) continue;
                try
                {
                    await OfferAsync(events, current, trigger.Reason, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    // A Secret unreadable now (the API server away): what runs keeps running; the next trigger reads again.
                    log($"kubernetes: reading the Secrets ({trigger.Reason}): {ex.GetType().Name}: {SafeText.Escape(ex.Message, 300)}");
                }
                UpdateSecretWatches(current, triggers, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        events.TryComplete();
    }

    async Task FollowAsync(ChannelWriter<Trigger> triggers, CancellationToken cancellationToken)
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
                    await triggers.WriteAsync(new ObjectSeen(current, "list"), cancellationToken);
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
                    await triggers.WriteAsync(new ObjectSeen(current, $"NodeHaConfig {node} {e.Type.ToLowerInvariant()}"), cancellationToken);
                }
                // The watch ended (timeout): read the Secrets again, then renew it.
                if (resourceVersion is not null) await triggers.WriteAsync(new ObjectSeen(current, "Secrets read again"), cancellationToken);
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
                if (!await DelayAsync(backoff, cancellationToken)) break;
                backoff = Next(backoff);
            }
        }
        triggers.TryComplete();
    }

    /// <summary>One watch per Secret the current config names; watches of Secrets it no longer names stop.</summary>
    void UpdateSecretWatches(NodeHaConfigObject? current, Channel<Trigger> triggers, CancellationToken cancellationToken)
    {
        var wanted = current is null ? [] : SecretsNamed(current.Config);
        lock (_secretWatches)
        {
            foreach (var key in _secretWatches.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
            {
                _secretWatches[key].Cancel();
                _secretWatches[key].Dispose();
                _secretWatches.Remove(key);
            }
            foreach (var (key, (ns, name)) in wanted)
            {
                if (_secretWatches.ContainsKey(key)) continue;
                var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _secretWatches[key] = stop;
                _ = WatchSecretAsync(ns, name, triggers.Writer, stop.Token);
            }
        }
    }

    void StopSecretWatches()
    {
        lock (_secretWatches)
        {
            foreach (var stop in _secretWatches.Values)
            {
                stop.Cancel();
                stop.Dispose();
            }
            _secretWatches.Clear();
        }
    }

    /// <summary>Every Secret the config names (VRRP passwords, TLS and basic auth), by "namespace/name".</summary>
    static Dictionary<string, (string Namespace, string Name)> SecretsNamed(NodeHaConfig config)
    {
        var named = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var instance in config.Spec.VrrpInstances)
            if (instance.AuthSecretRef is { } r) named.TryAdd($"{r.Namespace}/{r.Name}", (r.Namespace, r.Name));
        foreach (var r in TlsSecretReference.Of(config)) named.TryAdd(r.Key, (r.Namespace, r.Name));
        foreach (var r in HtpasswdSecretReference.Of(config)) named.TryAdd(r.Key, (r.Namespace, r.Name));
        return named;
    }

    /// <summary>
    /// Watches one Secret (no resourceVersion at first: the server sends it as ADDED, closing the gap since it was read)
    /// and wakes the hand-over loop on every change; renewed from the last resourceVersion when the server ends it.
    /// </summary>
    async Task WatchSecretAsync(string ns, string name, ChannelWriter<Trigger> triggers, CancellationToken cancellationToken)
    {
        var backoff = InitialBackoff;
        string resourceVersion = "";
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var e in api.WatchSecretAsync(ns, name, resourceVersion, WatchTimeout, cancellationToken))
                {
                    backoff = InitialBackoff;
                    if (e.Type == "ERROR")
                    {
                        resourceVersion = "";
                        if (e.Code != 410) throw new KubeApiException((System.Net.HttpStatusCode)(e.Code ?? 500), e.Message ?? "watch error");
                        break;
                    }
                    if (e.ResourceVersion is { Length: > 0 } rv) resourceVersion = rv;
                    if (e.Type is "ADDED" or "MODIFIED" or "DELETED")
                        await triggers.WriteAsync(new SecretChanged($"Secret {ns}/{name} {e.Type.ToLowerInvariant()}"), cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (ChannelClosedException)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                log($"kubernetes: watching Secret {ns}/{name}: {ex.GetType().Name}: {SafeText.Escape(ex.Message, 300)}; again in {backoff.TotalSeconds:0.#} s");
                resourceVersion = "";
                if (!await DelayAsync(backoff, cancellationToken)) break;
                backoff = Next(backoff);
            }
        }
    }

    async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, time, cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    static TimeSpan Next(TimeSpan backoff) => TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));

    /// <summary>Hands over the object with its Secrets, unless it is what was last handed over (or rejected).</summary>
    async Task OfferAsync(ChannelWriter<NodeConfigEvent> events, NodeHaConfigObject? obj, string reason, CancellationToken cancellationToken)
    {
        if (obj is null)
        {
            // Deleted (or gone while we were away): the operator withdrew every VIP from this node. None at all yet
            // (a node no group selects, or before the operator wrote one): that is this node's config too, handed
            // over once, so the agent is ready and a DaemonSet rollout does not stall on a node that serves nothing.
            _lastRejection = null;
            if (_generation is null && _emptyHandedOver) return;
            _emptyHandedOver = true;
            _generation = null;
            _secretsHash = null;
            var none = new NodeHaConfig { Metadata = { Name = node }, Spec = { NodeName = node } };
            // Gone from disk once the withdrawal is applied, in order with the configs handed over before it.
            await events.WriteAsync(new NodeConfigUpdate(none, NodeSecrets.None, $"{reason}: no NodeHaConfig \"{node}\": nothing to serve")
            {
                Applied = store is null ? null : store.Delete,
            }, cancellationToken);
            return;
        }
        var problems = new List<string>();
        var read = new Dictionary<(string, string), IReadOnlyDictionary<string, byte[]>?>();
        async Task<IReadOnlyDictionary<string, byte[]>?> Read(string ns, string name)
        {
            if (!read.TryGetValue((ns, name), out var data))
                read[(ns, name)] = data = await api.GetSecretDataAsync(ns, name, cancellationToken);
            return data;
        }

        var auth = new Dictionary<string, ReadOnlyMemory<byte>>();
        foreach (var instance in obj.Config.Spec.VrrpInstances)
        {
            if (instance.AuthSecretRef is not { } reference) continue;
            var data = await Read(reference.Namespace, reference.Name);
            if (data is null)
                problems.Add($"NodeHaConfig {node}: {instance.Name}: authSecretRef: Secret {reference.Namespace}/{reference.Name} does not exist");
            else if (!data.TryGetValue(reference.Key, out var value))
                problems.Add($"NodeHaConfig {node}: {instance.Name}: authSecretRef: Secret {reference.Namespace}/{reference.Name} has no key \"{reference.Key}\"");
            else
                auth[instance.Name] = value;
        }

        var tls = new Dictionary<string, TlsKeyPair>(StringComparer.Ordinal);
        foreach (var reference in TlsSecretReference.Of(obj.Config))
        {
            var where = $"NodeHaConfig {node}: {reference.Field}: Secret {reference.Key}";
            var data = await Read(reference.Namespace, reference.Name);
            if (data is null)
                problems.Add($"{where} does not exist");
            else if (!data.TryGetValue(NginxRuntimeOptions.TlsCertificateKey, out var certificate) || !data.TryGetValue(NginxRuntimeOptions.TlsPrivateKeyKey, out var key))
                problems.Add($"{where} has no key \"{(data.ContainsKey(NginxRuntimeOptions.TlsCertificateKey) ? NginxRuntimeOptions.TlsPrivateKeyKey : NginxRuntimeOptions.TlsCertificateKey)}\" (a kubernetes.io/tls Secret has tls.crt and tls.key)");
            else if (TlsKeyPair.Check(certificate, key, out var problem) is { } pair)
                tls[reference.Key] = pair;
            else
                problems.Add($"{where}: {problem}");
        }

        var htpasswd = new Dictionary<string, HtpasswdFile>(StringComparer.Ordinal);
        foreach (var reference in HtpasswdSecretReference.Of(obj.Config))
        {
            var where = $"NodeHaConfig {node}: {reference.Field}: Secret {reference.Key}";
            var data = await Read(reference.Namespace, reference.Name);
            if (data is null)
                problems.Add($"{where} does not exist");
            else if (!data.TryGetValue(NginxRuntimeOptions.HtpasswdKey, out var content))
                problems.Add($"{where} has no key \"{NginxRuntimeOptions.HtpasswdKey}\" (the htpasswd file)");
            else if (HtpasswdFile.Check(content, out var problem) is { } file)
                htpasswd[reference.Key] = file;
            else
                problems.Add($"{where}: {problem}");
        }

        var secrets = new NodeSecrets(auth) { Tls = tls, Htpasswd = htpasswd };
        var hash = Hash(secrets);
        if (problems.Count > 0)
        {
            // Handed over again once the Secret is right; the same rejection again (a watch renewed) says nothing new.
            _generation = null;
            var rejection = $"{obj.Generation}\n{string.Join("\n", problems)}";
            if (rejection == _lastRejection) return;
            _lastRejection = rejection;
            await events.WriteAsync(new NodeConfigRejected(problems, $"{reason} (generation {obj.Generation})") { Generation = obj.Generation },
                cancellationToken);
            return;
        }
        _lastRejection = null;
        if (_generation == obj.Generation && _secretsHash == hash) return; // status-only change, or nothing new
        Remember(obj.Generation, hash);
        var applied = new LastAppliedConfig
        {
            Generation = obj.Generation,
            Config = obj.Config,
            VrrpAuth = auth.ToDictionary(p => p.Key, p => Convert.ToBase64String(p.Value.Span)),
            Tls = tls.ToDictionary(p => p.Key, p => new StoredTlsPair
            {
                Certificate = Convert.ToBase64String(p.Value.Certificate.Span), PrivateKey = Convert.ToBase64String(p.Value.PrivateKey.Span),
            }),
            Htpasswd = htpasswd.ToDictionary(p => p.Key, p => Convert.ToBase64String(p.Value.Content.Span)),
        };
        // On disk once applied, not on receipt: a config nginx refuses must not be what a restart in an outage starts from.
        await events.WriteAsync(new NodeConfigUpdate(obj.Config, secrets, $"{reason} (generation {obj.Generation})")
        {
            Generation = obj.Generation,
            Applied = store is null ? null : () => store.Save(applied),
        }, cancellationToken);
    }

    void Remember(long generation, string secretsHash)
    {
        _generation = generation;
        _secretsHash = secretsHash;
        _emptyHandedOver = false; // a deletion from now on withdraws this config
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
        foreach (var (key, pair) in secrets.Tls.OrderBy(p => p.Key, StringComparer.Ordinal))
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"tls\0{key}\0{pair.Version}\0"));
        foreach (var (key, file) in secrets.Htpasswd.OrderBy(p => p.Key, StringComparer.Ordinal))
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"auth\0{key}\0{file.Version}\0"));
        return Convert.ToHexString(sha.GetHashAndReset());
    }
}
