using System.ComponentModel;
using System.Reflection;
using NginxHa.Core.Resources;
using NginxHa.Operator.Crds;

namespace NginxHa.Operator.Tests.Crds;

/// <summary>What the CRDs take from the C# types; that the server accepts them is proved in the integration tests.</summary>
public sealed class CrdGeneratorTests
{
    static OrderedDictionary<string, object?> Map(object? value) => (OrderedDictionary<string, object?>)value!;

    static OrderedDictionary<string, object?> Version(Type kind) =>
        Map(((List<object?>)Map(CrdGenerator.Generate(kind)["spec"])["versions"]!)[0]);

    static OrderedDictionary<string, object?> Schema(Type kind, params string[] path)
    {
        var schema = Map(Map(Version(kind)["schema"])["openAPIV3Schema"]);
        foreach (var name in path)
            schema = name == "[]" ? Map(schema["items"]) : Map(Map(schema["properties"])[name]);
        return schema;
    }

    [Theory]
    [InlineData(typeof(VirtualIpGroup), "virtualipgroups.nginx-ha.io", "vipg", "Namespaced")]
    [InlineData(typeof(NginxBackendPool), "nginxbackendpools.nginx-ha.io", "nbp", "Namespaced")]
    [InlineData(typeof(NodeHaConfig), "nodehaconfigs.nginx-ha.io", "nhc", "Cluster")]
    public void Each_kind_has_its_name_short_name_category_scope_and_status_subresource(Type kind, string name, string shortName, string scope)
    {
        var crd = CrdGenerator.Generate(kind);
        Assert.Equal(name, Map(crd["metadata"])["name"]);
        var spec = Map(crd["spec"]);
        var names = Map(spec["names"]);
        Assert.Equal([shortName], (List<object?>)names["shortNames"]!);
        Assert.Equal(["nginx-ha"], (List<object?>)names["categories"]!);
        Assert.Equal(scope, spec["scope"]);
        Assert.True(Map(Version(kind)["subresources"]).ContainsKey("status"));
    }

    [Theory]
    [InlineData(typeof(VirtualIpGroup), "Mode,VIPs,Masters,Ready,Age", "")]
    [InlineData(typeof(NginxBackendPool), "Listeners,Backends,Service,Ready,Age", "Backends,Service")]
    [InlineData(typeof(NodeHaConfig), "Instances,Masters,Nginx,Config,Age", "Instances,Config")]
    public void Printer_columns_are_the_issues_with_the_wide_ones_at_priority_1(Type kind, string columns, string wide)
    {
        var list = ((List<object?>)Version(kind)["additionalPrinterColumns"]!).Select(Map).ToList();
        Assert.Equal(columns, string.Join(",", list.Select(c => c["name"])));
        Assert.Equal(wide, string.Join(",", list.Where(c => c.ContainsKey("priority")).Select(c => c["name"])));
        Assert.All(list.Where(c => c.ContainsKey("priority")), c => Assert.Equal(1, c["priority"]));
    }

    [Fact]
    public void Defaults_are_the_values_standalone_mode_assumes()
    {
        var vrrp = Schema(typeof(VirtualIpGroup), "spec", "vrrp");
        Assert.Equal(3, Map(Map(vrrp["properties"])["version"])["default"]);
        Assert.Equal("1s", Map(Map(vrrp["properties"])["advertisementInterval"])["default"]);
        // An object that always exists defaults to its fields' defaults, spelled out.
        var whole = Map(vrrp["default"]);
        Assert.Equal(new VrrpSettings().Version, whole["version"]);
        Assert.Equal(new VrrpSettings().PreemptDelay, whole["preemptDelay"]);
        Assert.Equal("ActivePassive", Schema(typeof(VirtualIpGroup), "spec", "mode")["default"]);
        Assert.Equal(80, Schema(typeof(NginxBackendPool), "spec", "listeners", "[]", "port")["default"]);
        Assert.Equal("Default", Schema(typeof(NginxBackendPool), "spec", "proxy", "redirect")["default"]);
        // Required fields and objects with required fields get none: the user must give them.
        Assert.False(Schema(typeof(VirtualIpGroup), "spec").ContainsKey("default"));
        Assert.False(Schema(typeof(NginxBackendPool), "spec", "backends").ContainsKey("default"));
    }

    /// <summary>A [DefaultValue] that disagreed with the initializer would make the server and standalone mode differ.</summary>
    [Fact]
    public void Every_DefaultValue_attribute_equals_the_property_initializer()
    {
        var checkedCount = 0;
        foreach (var type in typeof(VirtualIpGroup).Assembly.GetTypes().Where(t => t.Namespace == typeof(VirtualIpGroup).Namespace && t.IsClass && !t.IsAbstract))
        {
            foreach (var property in type.GetProperties())
            {
                if (property.GetCustomAttribute<DefaultValueAttribute>() is not { } attribute) continue;
                var instance = Activator.CreateInstance(type);
                Assert.True(Equals(attribute.Value, property.GetValue(instance)),
                    $"{type.Name}.{property.Name}: [DefaultValue({attribute.Value})] but a new object has {property.GetValue(instance)}");
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 6, $"only {checkedCount} [DefaultValue] attributes found");
    }

    [Fact]
    public void Cross_field_rules_name_the_field_the_CSharp_validator_names()
    {
        var rules = ((List<object?>)Schema(typeof(VirtualIpGroup), "spec", "vrrp")["x-kubernetes-validations"]!).Select(Map).ToList();
        Assert.Contains(rules, r => (string)r["fieldPath"]! == ".authSecretRef" && (string)r["message"]! == "authentication is only supported with VRRP version 2");
        var onPool = ((List<object?>)Schema(typeof(NginxBackendPool), "spec")["x-kubernetes-validations"]!).Select(Map).ToList();
        Assert.Contains(onPool, r => (string?)r.GetValueOrDefault("fieldPath") == ".backends" && (string)r["message"]! == NginxBackendPool.ServersAndServiceMessage);
        // The node's copy of a pool holds the Service beside the servers resolved from it: no such rule there.
        var onNode = Schema(typeof(NodeHaConfig), "spec", "backendPools", "[]", "spec");
        Assert.DoesNotContain(((List<object?>?)onNode.GetValueOrDefault("x-kubernetes-validations") ?? []).Select(Map),
            r => (string)r["message"]! == NginxBackendPool.ServersAndServiceMessage);
    }

    [Fact]
    public void The_NodeHaConfig_CRD_keeps_only_its_own_rule_while_the_group_and_pool_CRDs_keep_theirs()
    {
        static int Rules(object? node) => node switch
        {
            OrderedDictionary<string, object?> map => ((map.GetValueOrDefault("x-kubernetes-validations") as List<object?>)?.Count ?? 0)
                + map.Values.Sum(Rules),
            List<object?> list => list.Sum(Rules),
            _ => 0,
        };
        var node = Schema(typeof(NodeHaConfig));
        Assert.Equal(1, Rules(node));
        Assert.Equal("self.spec.nodeName == self.metadata.name", Map(((List<object?>)node["x-kubernetes-validations"]!).Single())["rule"]);
        // The rules the NodeHaConfig leaves to the agent are the same types' rules the user-facing CRDs keep.
        Assert.Equal(14, Rules(Schema(typeof(VirtualIpGroup))));
        Assert.Equal(12, Rules(Schema(typeof(NginxBackendPool))));
    }

    [Fact]
    public void Yaml_quotes_the_words_YAML_1_1_would_read_as_booleans_or_null()
    {
        var yaml = YamlText.Write(new OrderedDictionary<string, object?> { ["a"] = "Off", ["b"] = "yes", ["c"] = "1s", ["d"] = "plain text", ["e"] = "x: y" });
        Assert.Equal("a: \"Off\"\nb: \"yes\"\nc: \"1s\"\nd: plain text\ne: \"x: y\"\n", yaml);
    }
}
