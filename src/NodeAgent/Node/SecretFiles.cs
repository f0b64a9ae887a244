using System.Text.RegularExpressions;
using NginxHa.Core.Nginx;
using NginxHa.NodeAgent.Sources;

namespace NginxHa.NodeAgent.Node;

/// <summary>One file to put on disk for nginx: a Secret's certificate or key. Its content is never logged.</summary>
public sealed record SecretFile(string Path, ReadOnlyMemory<byte> Content)
{
    public override string ToString() => $"SecretFile({Path})";
}

/// <summary>
/// Where a node's TLS Secrets go: SECRETS/NAMESPACE/NAME/VERSION/tls.crt and tls.key, VERSION from the content. A new
/// certificate is a new directory, so nginx.conf changes with it (the reload follows from the changed text) and the files
/// the running config names are never overwritten: a rejected change leaves them as they were.
/// </summary>
public static partial class SecretFiles
{
    /// <summary>Pure: the directories to render with (by "namespace/name") and the files they must hold.</summary>
    public static (IReadOnlyDictionary<string, string> Directories, IReadOnlyList<SecretFile> Files) Plan(
        IReadOnlyDictionary<string, TlsKeyPair> tls, string secretsDirectory)
    {
        var directories = new Dictionary<string, string>(StringComparer.Ordinal);
        var files = new List<SecretFile>();
        foreach (var (key, pair) in tls.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var directory = $"{secretsDirectory}/{key}/{pair.Version}";
            directories[key] = directory;
            files.Add(new SecretFile($"{directory}/{NginxRuntimeOptions.TlsCertificateKey}", pair.Certificate));
            files.Add(new SecretFile($"{directory}/{NginxRuntimeOptions.TlsPrivateKeyKey}", pair.PrivateKey));
        }
        return (directories, files);
    }

    /// <summary>A version directory's name (what <see cref="SecretFileStore.Prune"/> may remove, nothing else).</summary>
    [GeneratedRegex("^[0-9a-f]{16}$")]
    internal static partial Regex VersionName();
}

/// <summary>Puts secret files on disk and removes the versions no config names any more.</summary>
public interface ISecretFileStore
{
    /// <summary>Writes every file whole and owner-only; a file already there with the same content is left alone.</summary>
    void Write(IReadOnlyList<SecretFile> files);

    /// <summary>Removes the version directories under the secrets directory other than <paramref name="keep"/>.</summary>
    void Prune(IReadOnlyCollection<string> keep);
}

/// <summary>
/// The files under nginx's secrets directory: directories 0700, files 0600 (nginx's master reads them as root), each
/// written to a temporary file in its directory, flushed, then renamed over its name: nginx never reads half a key.
/// </summary>
public sealed class SecretFileStore(string secretsDirectory) : ISecretFileStore
{
    const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public void Write(IReadOnlyList<SecretFile> files)
    {
        foreach (var file in files)
        {
            if (!file.Path.StartsWith(secretsDirectory + "/", StringComparison.Ordinal))
                throw new ArgumentException($"{file.Path} is not under {secretsDirectory}", nameof(files));
            var directory = Path.GetDirectoryName(file.Path)!;
            CreateOwnerOnly(directory);
            if (File.Exists(file.Path) && File.ReadAllBytes(file.Path).AsSpan().SequenceEqual(file.Content.Span)) continue;
            var temporary = $"{file.Path}.{Environment.ProcessId}.tmp";
            File.Delete(temporary);
            using (var stream = new FileStream(temporary, new FileStreamOptions
                   {
                       Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile,
                   }))
            {
                stream.Write(file.Content.Span);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, file.Path, overwrite: true);
        }
    }

    public void Prune(IReadOnlyCollection<string> keep)
    {
        if (!Directory.Exists(secretsDirectory)) return;
        var kept = keep.Select(Path.GetFullPath).ToHashSet(StringComparer.Ordinal);
        // SECRETS/NAMESPACE/NAME/VERSION only: files put under SECRETS/NAME/ by hand (standalone) are not ours.
        foreach (var ns in Directory.EnumerateDirectories(secretsDirectory))
        foreach (var name in Directory.EnumerateDirectories(ns))
        {
            foreach (var version in Directory.EnumerateDirectories(name))
                if (SecretFiles.VersionName().IsMatch(Path.GetFileName(version)) && !kept.Contains(Path.GetFullPath(version)))
                    Directory.Delete(version, recursive: true);
            if (!Directory.EnumerateFileSystemEntries(name).Any()) Directory.Delete(name);
        }
        foreach (var ns in Directory.EnumerateDirectories(secretsDirectory))
            if (!Directory.EnumerateFileSystemEntries(ns).Any()) Directory.Delete(ns);
    }

    void CreateOwnerOnly(string directory)
    {
        // Every level from the secrets directory down is owner-only, whatever the umask.
        var relative = Path.GetRelativePath(secretsDirectory, directory);
        var current = secretsDirectory;
        Directory.CreateDirectory(current, OwnerOnlyDirectory);
        foreach (var part in relative.Split('/'))
        {
            current = Path.Combine(current, part);
            Directory.CreateDirectory(current, OwnerOnlyDirectory);
        }
    }
}
