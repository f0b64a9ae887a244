namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// What a lab started or created, disposed newest first (agents before the files and namespaces they use); one failing
/// disposal does not keep the others from running.
/// </summary>
public sealed class DisposableBag
{
    readonly List<IDisposable> _items = [];

    public T Own<T>(T item) where T : IDisposable
    {
        lock (_items) _items.Add(item);
        return item;
    }

    /// <summary>Disposes everything owned, newest first, adding each failure to <paramref name="failures"/>.</summary>
    public void DisposeAll(List<Exception> failures)
    {
        IDisposable[] items;
        lock (_items)
        {
            items = [.. _items];
            _items.Clear();
        }
        for (int i = items.Length - 1; i >= 0; i--)
        {
            try { items[i].Dispose(); }
            catch (Exception e) { failures.Add(e); }
        }
    }

    /// <summary>A new temporary directory that nginx workers (an unprivileged user) can reach, like /run: 0755.</summary>
    public static string CreateReachableDirectory(string prefix)
    {
        var path = Directory.CreateTempSubdirectory(prefix).FullName;
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return path;
    }
}
