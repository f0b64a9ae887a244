using static NginxHa.Core.Resources.Validation.FieldRules;

namespace NginxHa.Core.Resources.Validation;

public static class MetadataValidator
{
    public static IEnumerable<(string Path, string Message)> Validate(ObjectMeta metadata, bool namespaced)
    {
        var problems = new List<(string, string)>();
        if (metadata.Name.Length == 0)
            problems.Add(("metadata.name", "is required"));
        else if (ObjectName(metadata.Name) is { } nameReason)
            problems.Add(("metadata.name", $"{Quote(metadata.Name)} {nameReason}"));

        if (namespaced && metadata.Namespace is { Length: > 0 } ns && NamespaceName(ns) is { } nsReason)
            problems.Add(("metadata.namespace", $"{Quote(ns)} {nsReason}"));

        CheckLabels(problems, "metadata.labels", metadata.Labels);
        return problems;
    }
}
