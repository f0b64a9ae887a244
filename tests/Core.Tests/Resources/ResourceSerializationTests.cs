using System.Text.Json;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Resources;

public class ResourceSerializationTests
{
    [Fact]
    public void DisplayName_is_not_written_to_json_an_api_server_would_prune_or_reject_it()
    {
        var group = new VirtualIpGroup { ApiVersion = ApiGroup.ApiVersion, Kind = "VirtualIpGroup" };
        group.Metadata.Name = "web";
        group.Metadata.Namespace = "edge";
        Assert.Equal("edge/web", group.DisplayName);

        using var json = JsonDocument.Parse(JsonSerializer.Serialize(group, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        Assert.False(json.RootElement.TryGetProperty("displayName", out _));
        Assert.Equal("web", json.RootElement.GetProperty("metadata").GetProperty("name").GetString());
    }
}
