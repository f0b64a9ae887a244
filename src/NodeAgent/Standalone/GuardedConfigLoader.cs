using NginxHa.Core.Nginx;
using NginxHa.Core.Planning;
using NginxHa.Core.Text;
using NginxHa.NodeAgent.Network;

namespace NginxHa.NodeAgent.Standalone;

/// <summary>
/// The standalone agent's one way to load its config: never throws, and never holds up shutdown. Any exception out of
/// reading, parsing, binding, validating, planning or rendering is one more config error (at startup: exit 1; on
/// reload: the last good config keeps serving). The load runs off the caller's thread, so a stop request ends the wait
/// at once whatever the loader is doing.
/// </summary>
public static class GuardedConfigLoader
{
    public sealed record Result(NodeDesiredState? Desired, IReadOnlyList<string> Problems, IReadOnlyList<string> Warnings);

    public static async Task<Result> LoadAsync(IReadOnlyList<string> files, string node, NginxRuntimeOptions runtime,
        Func<IEnumerable<ConfiguredAddress>> hostAddresses, CancellationToken stop,
        IReadOnlyList<VrrpAllocation>? remembered = null, IReadOnlyList<HeardVirtualRouter>? heard = null)
    {
        var load = Task.Run(() => Load(files, node, runtime, hostAddresses, remembered, heard), CancellationToken.None);
        return await load.WaitAsync(stop).ConfigureAwait(false);
    }

    public static Result Load(IReadOnlyList<string> files, string node, NginxRuntimeOptions runtime, Func<IEnumerable<ConfiguredAddress>> hostAddresses,
        IReadOnlyList<VrrpAllocation>? remembered = null, IReadOnlyList<HeardVirtualRouter>? heard = null)
    {
        try
        {
            var desired = NodeConfigSource.Load(files, node, runtime, hostAddresses(), out var problems, out var warnings, remembered, heard);
            return new Result(desired, problems, warnings);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A defect in our own code must not cost the node its VIPs: report it as what could not be loaded.
            return new Result(null, [$"{string.Join(", ", files)}: the config could not be loaded ({ex.GetType().Name}: {SafeText.Escape(ex.Message)})"], []);
        }
    }
}
