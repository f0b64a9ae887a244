namespace NginxHa.Operator.Uninstall;

/// <summary>The cluster as the uninstall uses it (the Kubernetes one is <see cref="KubernetesUninstallApi"/>).</summary>
public interface IUninstallApi
{
    /// <summary>Lists the groups, then the configs.</summary>
    Task<UninstallSnapshot> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Deletes; an object already gone is no error.</summary>
    Task ExecuteAsync(UninstallAction action, CancellationToken cancellationToken);
}

/// <summary>Runs <see cref="UninstallStep"/> against the cluster every poll until it is done or fails; prints what it does.</summary>
public sealed class UninstallRunner(IUninstallApi api, TimeProvider time, TextWriter output)
{
    public TimeSpan Poll { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>0 when nothing is left, 1 on a timeout or a stranded group (the message printed to <paramref name="error"/>).</summary>
    public async Task<int> RunAsync(TimeSpan timeout, TextWriter error, CancellationToken cancellationToken)
    {
        var state = UninstallState.Start(time.GetUtcNow(), timeout);
        string? lastError = null;
        while (true)
        {
            // One read a poll, counted from the start of the previous one.
            var pause = Task.Delay(Poll, time, cancellationToken);
            UninstallStepResult step;
            try
            {
                step = UninstallStep.Next(state, await api.ReadAsync(cancellationToken).ConfigureAwait(false), time.GetUtcNow());
                foreach (var line in step.Lines) output.WriteLine(line);
                foreach (var action in step.Actions) await api.ExecuteAsync(action, cancellationToken).ConfigureAwait(false);
                lastError = null;
            }
            catch (UninstallApiException e)
            {
                // An API error is retried until the timeout, and said once per change.
                if (e.Message != lastError) error.WriteLine($"nginx-ha-operator uninstall: {e.Message} (retrying)");
                lastError = e.Message;
                if (time.GetUtcNow() - state.Started >= timeout)
                {
                    error.WriteLine($"nginx-ha-operator uninstall: timed out after {timeout.TotalSeconds:0} s: {e.Message}");
                    return 1;
                }
                await pause.ConfigureAwait(false);
                continue;
            }
            state = step.State;
            switch (step.Outcome)
            {
                case UninstallOutcome.Done: return 0;
                case UninstallOutcome.Failed:
                    error.WriteLine($"nginx-ha-operator uninstall: {step.Failure}");
                    return 1;
            }
            await pause.ConfigureAwait(false);
        }
    }
}

/// <summary>A request the API server refused or did not answer, with a message naming the request.</summary>
public sealed class UninstallApiException(string message, Exception inner) : Exception(message, inner);
