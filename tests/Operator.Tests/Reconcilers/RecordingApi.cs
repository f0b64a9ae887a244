using System.Net;
using k8s;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>A Kubernetes client whose requests never leave the process: each is recorded and answered 200 with "{}", or with
/// what <see cref="Respond"/> makes of it.</summary>
public sealed class RecordingApi : IDisposable
{
    private readonly Handler _handler = new();

    public RecordingApi(Func<string, string, string, string>? respond = null)
    {
        _handler.Respond = respond;
        Client = new Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" }, _handler);
    }

    public Kubernetes Client { get; }

    /// <summary>The response body for a request (method, path, body); null: "{}".</summary>
    public Func<string, string, string, string>? Respond { get => _handler.Respond; set => _handler.Respond = value; }

    /// <summary>Method, path and body of every request so far.</summary>
    public IReadOnlyList<(string Method, string Path, string Body)> Requests => _handler.Requests;

    public void Dispose() => Client.Dispose();

    private sealed class Handler : DelegatingHandler
    {
        private readonly List<(string Method, string Path, string Body)> _requests = [];
        public Func<string, string, string, string>? Respond { get; set; }

        public IReadOnlyList<(string Method, string Path, string Body)> Requests
        {
            get { lock (_requests) return [.. _requests]; }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            lock (_requests) _requests.Add((request.Method.Method, request.RequestUri!.AbsolutePath, body));
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new StringContent(Respond?.Invoke(request.Method.Method, request.RequestUri!.AbsolutePath, body) ?? "{}",
                    System.Text.Encoding.UTF8, "application/json"),
            };
        }
    }
}
