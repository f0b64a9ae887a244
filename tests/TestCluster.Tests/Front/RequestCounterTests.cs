using NginxHa.TestCluster.Front;

namespace NginxHa.TestCluster.Tests.Front;

/// <summary>How the front's request counter (GET /_testcluster/requests) names a request: verb and resource.</summary>
public sealed class RequestCounterTests
{
    [Theory]
    [InlineData("GET", "/api/v1/nodes", "", "list", "nodes")]
    [InlineData("GET", "/api/v1/nodes", "true", "watch", "nodes")]
    [InlineData("GET", "/api/v1/nodes/lb1", "", "get", "nodes")]
    [InlineData("GET", "/api/v1/namespaces/edge", "", "get", "namespaces")]
    [InlineData("POST", "/apis/events.k8s.io/v1/namespaces/edge/events", "", "create", "events")]
    [InlineData("PATCH", "/apis/nginx-ha.io/v1alpha1/nodehaconfigs/lb1", "", "patch", "nodehaconfigs")]
    [InlineData("PATCH", "/apis/nginx-ha.io/v1alpha1/nodehaconfigs/lb1/status", "", "patch-status", "nodehaconfigs")]
    [InlineData("PUT", "/apis/nginx-ha.io/v1alpha1/namespaces/edge/virtualipgroups/web/status", "", "update-status", "virtualipgroups")]
    [InlineData("DELETE", "/apis/nginx-ha.io/v1alpha1/nodehaconfigs", "", "deletecollection", "nodehaconfigs")]
    [InlineData("GET", "/healthz", "", "other", "/healthz")]
    public void A_request_is_counted_by_verb_and_resource(string method, string path, string watch, string verb, string resource) =>
        Assert.Equal((verb, resource), RequestCounter.Classify(method, path, watch));
}
