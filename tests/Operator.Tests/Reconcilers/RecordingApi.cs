using System.Net;
using k8s;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>
/// A Kubernetes client whose requests never leave the process: each is recorded and answered 200 with "{}", or with what
/// <c>answer</c> makes of its method, path and body.
/// </summary>
public sealed class RecordingApi : IDisposable
{
    private readonly Handler _handler;

    public RecordingApi(Func<string, string, string, string>? answer = null)
    {
        _handler = new Handler(answer ?? ((_, _, _) => "{}"));
        Client = new Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" }, _handler);
    }

    public Kubernetes Client { get; }

    /// <summary>Method, path and body of every request so far.</summary>
    public IReadOnlyList<(string Method, string Path, string Body)> Requests => _handler.Requests;

    public void Dispose() => Client.Dispose();

    private sealed class Handler(Func<string, string, string, string> answer) : DelegatingHandler
    {
        private readonly List<(string Method, string Path, string Body)> _requests = [];

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
                Content = new StringContent(answer(request.Method.Method, request.RequestUri!.AbsolutePath, body), System.Text.Encoding.UTF8, "application/json"),
            };
        }
    }
}
