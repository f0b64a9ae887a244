using System.Text.Json.Nodes;
using NginxHa.TestCluster.StandIn;

namespace NginxHa.TestCluster.Tests.StandIn;

public sealed class SelectorTests
{
    static readonly JsonObject Web = JsonNode.Parse("""{"metadata":{"name":"web","namespace":"edge","labels":{"app":"nginx","tier":"front"}},"type":"kubernetes.io/tls"}""")!.AsObject();
    static ResourceKind Secret => ResourceKind.All.Single(k => k.Kind == "Secret");

    [Theory]
    [InlineData("app=nginx", true)]
    [InlineData("app=nginx,tier in (front, back)", true)]
    [InlineData("app=nginx,tier notin (front)", false)]
    [InlineData("!tier", false)]
    [InlineData("missing", false)]
    [InlineData("app!=apache", true)]
    public void Label_selector(string selector, bool matches) => Assert.Equal(matches, Selector.Labels(selector).Matches(Web));

    [Theory]
    [InlineData("metadata.name=web", true)]
    [InlineData("metadata.namespace!=edge", false)]
    [InlineData("type==kubernetes.io/tls,metadata.name=web", true)]
    public void Field_selector(string selector, bool matches) => Assert.Equal(matches, Selector.Fields(selector, Secret).Matches(Web));

    [Fact]
    public void A_field_the_kind_does_not_index_is_refused_by_name()
    {
        var error = Assert.Throws<ApiError>(() => Selector.Fields("data.password=x", Secret));

        Assert.Equal(400, error.Code);
        Assert.Equal("field label not supported: data.password", error.Message);
    }
}
