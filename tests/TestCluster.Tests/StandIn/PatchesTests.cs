using System.Text.Json.Nodes;
using NginxHa.TestCluster.StandIn;

namespace NginxHa.TestCluster.Tests.StandIn;

/// <summary>The stand-in's patch types, as the clients that send them expect.</summary>
public sealed class PatchesTests
{
    static JsonNode J(string json) => JsonNode.Parse(json)!;

    static void Same(string expected, JsonNode? actual) => Assert.True(JsonNode.DeepEquals(J(expected), actual), actual?.ToJsonString());

    [Fact]
    public void Strategic_merge_merges_containers_by_name_and_deletes_with_the_patch_directive()
    {
        var deployment = J("""{"spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"X","value":"1"}]},{"name":"b","image":"b:1"}]}}""");
        var patch = J("""{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"a","image":"a:2"},{"name":"b","$patch":"delete"}]}}""");

        Same("""{"spec":{"containers":[{"name":"a","image":"a:2","env":[{"name":"X","value":"1"}]}]}}""", Patches.StrategicMerge(deployment, patch));
    }

    [Fact]
    public void Strategic_merge_replaces_lists_without_a_name_key_and_honours_retainKeys_and_primitive_deletes()
    {
        var obj = J("""{"args":["a","b"],"finalizers":["x","y"],"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}""");
        var patch = J("""{"args":["c"],"$deleteFromPrimitiveList/finalizers":["x"],"strategy":{"$retainKeys":["type"],"type":"Recreate"}}""");

        Same("""{"args":["c"],"finalizers":["y"],"strategy":{"type":"Recreate"}}""", Patches.StrategicMerge(obj, patch));
    }

    [Fact]
    public void Merge_patch_removes_null_fields_and_replaces_lists()
    {
        Same("""{"a":{"c":3},"l":[9]}""", Patches.MergePatch(J("""{"a":{"b":1,"c":2},"l":[1,2]}"""), J("""{"a":{"b":null,"c":3},"l":[9]}""")));
    }

    [Fact]
    public void Json_patch_adds_replaces_removes_moves_and_tests()
    {
        var doc = J("""{"metadata":{"labels":{"a":"1"}},"items":[1,3]}""");
        var ops = J("""
            [{"op":"add","path":"/metadata/labels/b~1c","value":"2"},
             {"op":"replace","path":"/metadata/labels/a","value":"9"},
             {"op":"add","path":"/items/1","value":2},
             {"op":"add","path":"/items/-","value":4},
             {"op":"test","path":"/items/0","value":1},
             {"op":"move","from":"/metadata/labels/a","path":"/moved"},
             {"op":"remove","path":"/items/0"}]
            """);

        Same("""{"metadata":{"labels":{"b/c":"2"}},"items":[2,3,4],"moved":"9"}""", Patches.JsonPatch(doc, ops));
    }

    [Fact]
    public void Json_patch_with_a_failing_test_or_a_missing_path_is_refused_with_422()
    {
        var doc = J("""{"a":1}""");

        var failedTest = Assert.Throws<ApiError>(() => Patches.JsonPatch(doc, J("""[{"op":"test","path":"/a","value":2}]""")));
        var missing = Assert.Throws<ApiError>(() => Patches.JsonPatch(doc, J("""[{"op":"replace","path":"/b","value":2}]""")));

        Assert.Equal(422, failedTest.Code);
        Assert.Equal(422, missing.Code);
        Assert.Contains("/b", missing.Message);
    }
}
