using NginxHa.Core.Manifests;
using NginxHa.Core.Resources;
using NginxHa.Core.Text;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Standalone;

/// <summary>
/// Reads every secret file a config names before anything starts (or, on reload, before anything changes): a missing,
/// empty or world-readable authPasswordFile is reported with the "file:line" of the field that names it, not found by
/// a speaker after nginx already bound its ports. The messages name the file, never its content.
/// </summary>
public static class SecretFilePreflight
{
    public static IReadOnlyList<string> Check(NodeHaConfig config, ManifestSet manifests)
    {
        var problems = new List<string>();
        foreach (var file in config.Spec.VrrpInstances.Where(i => i.AuthPasswordFile is not null).GroupBy(i => i.AuthPasswordFile!))
        {
            try
            {
                VrrpPasswordFile.Read(file.Key);
            }
            catch (SecretFileException ex)
            {
                var instance = file.First();
                var group = manifests.VirtualIpGroups.FirstOrDefault(g => $"{g.Metadata.Namespace}/{g.Metadata.Name}" == instance.Group);
                const string Field = "spec.vrrp.authPasswordFile";
                var where = group is null ? "" : manifests.LocationOf(group, Field);
                var error = new ValidationError(where, group is null ? instance.Name : $"{VirtualIpGroup.KindName} {group.DisplayName}", Field, ex.Message);
                problems.Add(error.ToString());
            }
        }
        return problems;
    }
}
