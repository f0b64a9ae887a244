namespace NginxHa.Core.Resources;

/// <summary>
/// Implemented by every type the manifest loader and the planner validate. Paths are JSON paths relative
/// to the object the method is called on (for a resource: from its root, e.g. <c>spec.virtualIPs[1]</c>).
/// </summary>
public interface IValidatable
{
    IEnumerable<(string Path, string Message)> Validate();
}
