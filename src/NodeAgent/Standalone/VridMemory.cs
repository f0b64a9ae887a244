using NginxHa.Core.Planning;

namespace NginxHa.NodeAgent.Standalone;

/// <summary>
/// The VRIDs of the last plan this node applied, kept in its state dir so a restarted agent never renumbers a
/// running instance (docs/vrid-allocation.md). Only VRIDs: master choice stays a function of the files, so two
/// nodes always agree on priorities. One line per instance: group, tab, VIP address or "-", tab, VRID.
/// </summary>
public static class VridMemory
{
    const string FileName = "vrids";

    public static IReadOnlyList<VrrpAllocation> Load(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, FileName);
        string[] lines;
        try
        {
            lines = File.Exists(path) ? File.ReadAllLines(path) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return []; // unreadable memory is no memory: VRIDs fall back to their hashed homes
        }
        var allocations = new List<VrrpAllocation>();
        foreach (var line in lines)
        {
            var fields = line.Split('\t');
            // A damaged line is forgotten, not fatal: the VRID falls back to its hashed home.
            if (fields.Length == 3 && int.TryParse(fields[2], out var vrid))
                allocations.Add(new VrrpAllocation(fields[0], fields[1] == "-" ? null : fields[1], vrid, ""));
        }
        return allocations;
    }

    /// <summary>Null, or why the memory could not be written (a full disk must not stop the agent; the old file stays).</summary>
    public static string? Save(string stateDirectory, IEnumerable<VrrpAllocation> allocations)
    {
        var path = Path.Combine(stateDirectory, FileName);
        var temporary = path + ".new";
        try
        {
            var lines = allocations.Select(a => $"{a.Group}\t{a.VirtualIp ?? "-"}\t{a.VirtualRouterId}");
            File.WriteAllLines(temporary, lines);
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temporary, path, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"could not remember the VRIDs in {path}: {e.Message}";
        }
    }
}
