using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Uninstall;

/// <summary>The uninstall's reads and deletes through KubernetesClient (list and delete of VirtualIpGroups and NodeHaConfigs only).</summary>
public sealed class KubernetesUninstallApi(IKubernetes client) : IUninstallApi
{
    public async Task<UninstallSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        var groups = await ListAsync<VirtualIpGroupResource>(Kinds.VirtualIpGroups, cancellationToken).ConfigureAwait(false);
        var configs = await ListAsync<NodeHaConfigResource>(Kinds.NodeHaConfigs, cancellationToken).ConfigureAwait(false);
        return new UninstallSnapshot(
            groups.Select(g => new GroupView(Kinds.Key(g.Metadata), g.Metadata.DeletionTimestamp is not null, g.Metadata.Finalizers?.ToList() ?? [])).ToList(),
            configs.Select(c => new ConfigView(c.Metadata.Name, c.Metadata.DeletionTimestamp is not null, GroupsHeld(c))).ToList());
    }

    /// <summary>The groups a config carries in its spec or its agent still reports (instances are named "namespace/group/N"):
    /// what the operator's finalizer waits for (<see cref="VirtualIpGroupReconciler.NodesHoldingGroup"/>).</summary>
    static List<string> GroupsHeld(NodeHaConfigResource config) =>
        config.Spec.VrrpInstances.Select(i => i.Group)
            .Concat((config.Status?.Instances ?? []).Select(i => i.Name.Split('/') is [var ns, var group, _] ? $"{ns}/{group}" : i.Name))
            .Distinct(StringComparer.Ordinal).ToList();

    public async Task ExecuteAsync(UninstallAction action, CancellationToken cancellationToken)
    {
        var (what, delete) = action switch
        {
            UninstallAction.DeleteGroup g => ($"delete VirtualIpGroup {g.Namespace}/{g.Name}", (Func<Task>)(() =>
                client.CustomObjects.DeleteNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, g.Namespace, Kinds.VirtualIpGroups, g.Name,
                    cancellationToken: cancellationToken))),
            UninstallAction.DeleteConfig c => ($"delete NodeHaConfig {c.Node}", () =>
                client.CustomObjects.DeleteClusterCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, c.Node,
                    cancellationToken: cancellationToken)),
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown uninstall action"),
        };
        try
        {
            await delete().ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // already gone
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new UninstallApiException($"{what}: {Describe(e)}", e);
        }
    }

    async Task<List<T>> ListAsync<T>(string plural, CancellationToken cancellationToken)
    {
        try
        {
            var items = new List<T>();
            string? next = null;
            do
            {
                using var response = await client.CustomObjects.ListClusterCustomObjectWithHttpMessagesAsync(ApiGroup.Group, ApiGroup.Version, plural,
                    continueParameter: next, limit: 500, cancellationToken: cancellationToken).ConfigureAwait(false);
                var page = KubernetesJson.Deserialize<CustomResourceList<T>>((JsonElement)response.Body);
                items.AddRange(page.Items);
                next = page.Metadata?.ContinueProperty;
            }
            while (!string.IsNullOrEmpty(next));
            return items;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return []; // the CRD is not installed: none of that kind can exist
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new UninstallApiException($"list {plural}.{ApiGroup.Group}: {Describe(e)}", e);
        }
    }

    static string Describe(Exception e) => e is HttpOperationException h
        ? $"{(int)h.Response.StatusCode} {h.Response.ReasonPhrase}{(string.IsNullOrWhiteSpace(h.Response.Content) ? "" : $": {Message(h.Response.Content)}")}"
        : e.Message;

    /// <summary>The Status message of an error body, else the body itself.</summary>
    static string Message(string content)
    {
        try
        {
            using var doc = JsonDocument.Parse(content);
            return doc.RootElement.TryGetProperty("message", out var m) && m.GetString() is { } text ? text : content;
        }
        catch (JsonException)
        {
            return content;
        }
    }
}
