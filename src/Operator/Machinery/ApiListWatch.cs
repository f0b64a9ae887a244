using System.Runtime.CompilerServices;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace NginxHa.Operator.Machinery;

/// <summary>The list call every generated KubernetesClient list operation shares (watch is the same call with watch=true).</summary>
public delegate Task<HttpOperationResponse<TList>> ListCall<TList>(
    bool? allowWatchBookmarks, string? continueToken, int? limit, string? resourceVersion, int? timeoutSeconds, bool? watch,
    CancellationToken cancellationToken);

/// <summary>List and watch through KubernetesClient for the kinds the operator reads.</summary>
public static class ApiListWatch
{
    public static IListWatch<V1Node> Nodes(IKubernetes client) => new Typed<V1Node, V1NodeList>("nodes",
        (b, c, l, rv, t, w, ct) => client.CoreV1.ListNodeWithHttpMessagesAsync(allowWatchBookmarks: b, continueParameter: c, limit: l,
            resourceVersion: rv, timeoutSeconds: t, watch: w, cancellationToken: ct));

    public static IListWatch<V1Secret> Secrets(IKubernetes client, string? fieldSelector = null) => new Typed<V1Secret, V1SecretList>("secrets",
        (b, c, l, rv, t, w, ct) => client.CoreV1.ListSecretForAllNamespacesWithHttpMessagesAsync(allowWatchBookmarks: b, continueParameter: c,
            fieldSelector: fieldSelector, limit: l, resourceVersion: rv, timeoutSeconds: t, watch: w, cancellationToken: ct));

    public static IListWatch<V1EndpointSlice> EndpointSlices(IKubernetes client) => new Typed<V1EndpointSlice, V1EndpointSliceList>("endpointslices",
        (b, c, l, rv, t, w, ct) => client.DiscoveryV1.ListEndpointSliceForAllNamespacesWithHttpMessagesAsync(allowWatchBookmarks: b,
            continueParameter: c, limit: l, resourceVersion: rv, timeoutSeconds: t, watch: w, cancellationToken: ct));

    /// <summary>The Leases of one namespace (the agents' heartbeats live beside the operator's own Lease).</summary>
    public static IListWatch<V1Lease> Leases(IKubernetes client, string ns) => new Typed<V1Lease, V1LeaseList>($"leases in {ns}",
        (b, c, l, rv, t, w, ct) => client.CoordinationV1.ListNamespacedLeaseWithHttpMessagesAsync(ns, allowWatchBookmarks: b, continueParameter: c,
            limit: l, resourceVersion: rv, timeoutSeconds: t, watch: w, cancellationToken: ct));

    /// <summary>A custom resource of any group, across all namespaces (or cluster-scoped), optionally narrowed by a field selector.</summary>
    public static IListWatch<T> Custom<T>(IKubernetes client, string group, string version, string plural, string? fieldSelector = null)
        where T : IKubernetesObject<V1ObjectMeta> =>
        new CustomList<T>($"{plural}.{group}", (b, c, l, rv, t, w, ct) => client.CustomObjects.ListClusterCustomObjectWithHttpMessagesAsync(
            group, version, plural, allowWatchBookmarks: b, continueParameter: c, fieldSelector: fieldSelector, limit: l,
            resourceVersion: rv, timeoutSeconds: t, watch: w, cancellationToken: ct));

    private sealed class Typed<T, TList>(string description, ListCall<TList> call) : IListWatch<T>
        where TList : IItems<T>, IMetadata<V1ListMeta>
    {
        public string Description => description;

        public async Task<ListPage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken)
        {
            using var response = await call(null, continueToken, limit, null, null, null, cancellationToken).ConfigureAwait(false);
            var list = response.Body;
            return new ListPage<T>(list.Items?.ToList() ?? [], list.Metadata?.ResourceVersion ?? "", list.Metadata?.ContinueProperty);
        }

        public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string resourceVersion, int timeoutSeconds,
            Action<Exception> onError, CancellationToken cancellationToken) =>
            Watch<T, TList>(call(true, null, null, resourceVersion, timeoutSeconds, true, cancellationToken), onError, cancellationToken);
    }

    private sealed class CustomList<T>(string description, ListCall<object> call) : IListWatch<T>
        where T : IKubernetesObject<V1ObjectMeta>
    {
        public string Description => description;

        public async Task<ListPage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken)
        {
            using var response = await call(null, continueToken, limit, null, null, null, cancellationToken).ConfigureAwait(false);
            var list = KubernetesJson.Deserialize<CustomResourceList<T>>((JsonElement)response.Body)
                ?? throw new InvalidOperationException($"{description}: empty list response");
            return new ListPage<T>(list.Items, list.Metadata?.ResourceVersion ?? "", list.Metadata?.ContinueProperty);
        }

        public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string resourceVersion, int timeoutSeconds,
            Action<Exception> onError, CancellationToken cancellationToken) =>
            Watch<T, object>(call(true, null, null, resourceVersion, timeoutSeconds, true, cancellationToken), onError, cancellationToken);
    }

    private static async IAsyncEnumerable<(WatchEventType, T)> Watch<T, TList>(Task<HttpOperationResponse<TList>> request,
        Action<Exception> onError, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The response owns the stream: dispose it when the watch ends, also when the watchdog cancels it.
        var response = await request.ConfigureAwait(false);
        using (response)
        await using (cancellationToken.Register(() => response.Response.Dispose()))
        {
#pragma warning disable CS0618 // WatchAsync is marked for a future rename; it is the call that takes onError
            await foreach (var item in request.WatchAsync<T, TList>(onError, cancellationToken).ConfigureAwait(false))
#pragma warning restore CS0618
                yield return item;
        }
    }
}

/// <summary>The list wrapper of a custom resource.</summary>
public sealed class CustomResourceList<T>
{
    public string? ApiVersion { get; set; }
    public string? Kind { get; set; }
    public V1ListMeta? Metadata { get; set; }
    public List<T> Items { get; set; } = new();
}
