using System.Text.Json;
using NginxHa.NodeAgent.Kubernetes;

namespace NginxHa.NodeAgent.Sources;

/// <summary>
/// The last config the Kubernetes source handed over, kept in the state directory (mode 0600: it holds VRRP
/// passwords), so an agent restarted while the API server is unreachable comes back serving it.
/// </summary>
public sealed class LastConfigStore(string stateDirectory)
{
    public const string FileName = "last-config.json";

    public string Path { get; } = System.IO.Path.Combine(stateDirectory, FileName);

    /// <summary>Writes the file whole (a temporary file renamed over it), owner read/write only.</summary>
    public void Save(LastAppliedConfig config)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var temporary = Path + ".tmp";
        File.Delete(temporary);
        using (var stream = new FileStream(temporary, new FileStreamOptions
               {
                   Mode = FileMode.CreateNew, Access = FileAccess.Write,
                   UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
        {
            JsonSerializer.Serialize(stream, config, KubeJsonContext.Default.LastAppliedConfig);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, Path, overwrite: true);
    }

    /// <summary>The saved config, or null when there is none; a damaged file is reported and ignored.</summary>
    public LastAppliedConfig? Load(Action<string> log)
    {
        if (!File.Exists(Path)) return null;
        try
        {
            using var stream = File.OpenRead(Path);
            return JsonSerializer.Deserialize(stream, KubeJsonContext.Default.LastAppliedConfig);
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            log($"warning: {Path}: the last applied config could not be read ({ex.GetType().Name}); waiting for the API server");
            return null;
        }
    }

    public void Delete() => File.Delete(Path);
}
