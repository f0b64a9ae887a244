using k8s.Autorest;

namespace NginxHa.Operator.Machinery;

/// <summary>One line per message on the error stream, with a UTC timestamp and level; never given secrets.</summary>
public sealed class OperatorLog(TextWriter writer, TimeProvider time, bool debug = false)
{
    private readonly object _lock = new();

    public void Info(string message) => Write("info", message);
    public void Warn(string message) => Write("warn", message);
    public void Debug(string message) { if (debug) Write("debug", message); }

    private void Write(string level, string message)
    {
        lock (_lock) writer.WriteLine($"{time.GetUtcNow():yyyy-MM-ddTHH:mm:ss.fffZ} {level} {message}");
    }

    /// <summary>An exception as one line: the API server's status message when there is one.</summary>
    public static string Describe(Exception e) => e switch
    {
        HttpOperationException http => $"HTTP {(int)http.Response.StatusCode} {http.Response.ReasonPhrase}: {Truncate(http.Response.Content)}",
        k8s.KubernetesException kube => $"{kube.Status?.Code} {kube.Status?.Reason}: {kube.Status?.Message}",
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    private static string Truncate(string? text) => text is null ? "" : text.Length <= 400 ? text : text[..400] + "...";
}
