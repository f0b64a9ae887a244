using static NginxHa.Core.Resources.Validation.FieldRules;

namespace NginxHa.Core.Resources.Validation;

public static class NodeValidator
{
    public static IEnumerable<(string Path, string Message)> Validate(Node node)
    {
        var problems = new List<(string Path, string Message)>(MetadataValidator.Validate(node.Metadata, namespaced: false));
        for (var i = 0; i < node.Status.Addresses.Count; i++)
        {
            var address = node.Status.Addresses[i];
            var path = $"status.addresses[{i}]";
            if (!NodeAddressTypes.All.Contains(address.Type))
                problems.Add(($"{path}.type", $"{Quote(address.Type)} must be one of {string.Join(", ", NodeAddressTypes.All)}"));
            if (address.Type is NodeAddressTypes.InternalIP or NodeAddressTypes.ExternalIP
                && !VirtualIp.TryParseAddress(address.Address, out _))
                problems.Add(($"{path}.address", $"{Quote(address.Address)} is not an IP address"));
        }
        return problems;
    }
}
