using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using NginxHa.Core.Nginx;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Sources;

namespace NginxHa.NodeAgent.Node;

/// <summary>
/// One file to put on disk for nginx: a Secret's certificate, key or htpasswd. Its content is never logged.
/// <paramref name="ForWorkers"/>: nginx's worker processes open it (auth_basic_user_file, per request, as the worker user),
/// not only the master (as root, at load).
/// </summary>
public sealed record SecretFile(string Path, ReadOnlyMemory<byte> Content, bool ForWorkers = false)
{
    public override string ToString() => $"SecretFile({Path})";
}

/// <summary>
/// Where a node's Secrets go: SECRETS/NAMESPACE/NAME/VERSION/tls.crt, tls.key and auth, VERSION from the content. A new
/// certificate or htpasswd is a new directory, so nginx.conf changes with it (the reload follows from the changed text) and
/// the files the running config names are never overwritten: a rejected change leaves them as they were.
/// </summary>
public static partial class SecretFiles
{
    static readonly IReadOnlyDictionary<string, HtpasswdFile> NoHtpasswd = new Dictionary<string, HtpasswdFile>();

    public static (IReadOnlyDictionary<string, string> Directories, IReadOnlyList<SecretFile> Files) Plan(
        IReadOnlyDictionary<string, TlsKeyPair> tls, string secretsDirectory) => Plan(tls, NoHtpasswd, secretsDirectory);

    /// <summary>
    /// Pure: the directories to render with (by "namespace/name") and the files they must hold. A Secret used both for TLS
    /// and basic auth is one directory (the renderer looks a Secret up by name), its version from both contents.
    /// </summary>
    public static (IReadOnlyDictionary<string, string> Directories, IReadOnlyList<SecretFile> Files) Plan(
        IReadOnlyDictionary<string, TlsKeyPair> tls, IReadOnlyDictionary<string, HtpasswdFile> htpasswd, string secretsDirectory)
    {
        var directories = new Dictionary<string, string>(StringComparer.Ordinal);
        var files = new List<SecretFile>();
        foreach (var key in tls.Keys.Union(htpasswd.Keys).Order(StringComparer.Ordinal))
        {
            tls.TryGetValue(key, out var pair);
            htpasswd.TryGetValue(key, out var auth);
            var version = (pair, auth) switch
            {
                ({ } p, null) => p.Version,
                (null, { } a) => a.Version,
                _ => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes($"{pair!.Version}\0{auth!.Version}")))[..16],
            };
            var directory = $"{secretsDirectory}/{key}/{version}";
            directories[key] = directory;
            if (pair is not null)
            {
                files.Add(new SecretFile($"{directory}/{NginxRuntimeOptions.TlsCertificateKey}", pair.Certificate));
                files.Add(new SecretFile($"{directory}/{NginxRuntimeOptions.TlsPrivateKeyKey}", pair.PrivateKey));
            }
            if (auth is not null) files.Add(new SecretFile($"{directory}/{NginxRuntimeOptions.HtpasswdKey}", auth.Content, ForWorkers: true));
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
    /// <summary>Writes every file whole; a file already there with the same content is left alone.</summary>
    void Write(IReadOnlyList<SecretFile> files);

    /// <summary>Removes the version directories under the secrets directory other than <paramref name="keep"/>.</summary>
    void Prune(IReadOnlyCollection<string> keep);
}

/// <summary>
/// The files under nginx's secrets directory, each written to a temporary file in its directory, flushed, then renamed over
/// its name: nginx never reads half a key. TLS files: directories 0700, files 0600 (nginx's master reads them as root).
/// Files for the workers (htpasswd): the file 0640 and every directory above it 0710, group <paramref name="workerGroupId"/>
/// (nginx's worker group), owner the agent. Group, not owner: giving a file away needs CAP_CHOWN (the agent may change
/// the group of its own files to a group it is in), and an owner could chmod it; 0640 lets the workers read it and
/// nobody else, 0710 lets them reach it by name without listing the directories.
/// </summary>
public sealed class SecretFileStore(string secretsDirectory, uint workerGroupId = SecretFileStore.NginxDefaultWorkerGroupId) : ISecretFileStore
{
    /// <summary>nogroup (nobody) on Debian: the group of nginx's workers when nginx.conf has no user directive (the agent's).</summary>
    public const uint NginxDefaultWorkerGroupId = 65534;

    const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    const UnixFileMode WorkerDirectory = OwnerOnlyDirectory | UnixFileMode.GroupExecute;
    const UnixFileMode WorkerFile = OwnerOnlyFile | UnixFileMode.GroupRead;

    public uint WorkerGroupId => workerGroupId;

    public void Write(IReadOnlyList<SecretFile> files)
    {
        foreach (var file in files)
        {
            if (!file.Path.StartsWith(secretsDirectory + "/", StringComparison.Ordinal))
                throw new ArgumentException($"{file.Path} is not under {secretsDirectory}", nameof(files));
            var directory = Path.GetDirectoryName(file.Path)!;
            CreateDirectories(directory, file.ForWorkers);
            if (File.Exists(file.Path) && File.ReadAllBytes(file.Path).AsSpan().SequenceEqual(file.Content.Span))
            {
                if (file.ForWorkers) GiveToWorkers(file.Path, WorkerFile); // the group may have changed since
                continue;
            }
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
            try
            {
                if (file.ForWorkers) GiveToWorkers(temporary, WorkerFile);
            }
            catch
            {
                File.Delete(temporary);
                throw;
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

    void CreateDirectories(string directory, bool forWorkers)
    {
        // Every level from the secrets directory down is owner-only whatever the umask; on the way to a workers' file each
        // level is also searchable by the workers' group.
        var relative = Path.GetRelativePath(secretsDirectory, directory);
        var current = secretsDirectory;
        Directory.CreateDirectory(current, OwnerOnlyDirectory);
        if (forWorkers) GiveToWorkers(current, WorkerDirectory);
        foreach (var part in relative.Split('/'))
        {
            current = Path.Combine(current, part);
            Directory.CreateDirectory(current, OwnerOnlyDirectory);
            if (forWorkers) GiveToWorkers(current, WorkerDirectory);
        }
    }

    /// <summary>
    /// The directories above the secrets directory (nginx's prefix, the state directory holding it): their group becomes the
    /// workers', mode unchanged (0750), so the workers can reach an htpasswd below them and nothing more: the files there
    /// are 0600 or 0640 root:root.
    /// </summary>
    public void LetWorkersThrough(IEnumerable<string> directories)
    {
        foreach (var directory in directories) GiveToWorkers(directory, File.GetUnixFileMode(directory) | UnixFileMode.GroupExecute);
    }

    void GiveToWorkers(string path, UnixFileMode mode)
    {
        if (Posix.Chown(path, uint.MaxValue, workerGroupId) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{path}: cannot give it to nginx's worker group {workerGroupId} " +
                $"({Marshal.GetPInvokeErrorMessage(errno)}; without CAP_CHOWN the agent must be a member of that group)");
        }
        File.SetUnixFileMode(path, mode);
    }
}
