using Microsoft.Extensions.Time.Testing;
using NginxHa.Operator.Uninstall;
using static NginxHa.Operator.Uninstall.UninstallAction;

namespace NginxHa.Operator.Tests.Uninstall;

/// <summary>The uninstall hook's logic (<c>nginx-ha-operator uninstall</c>) as a pure step, and its loop on a fake clock.</summary>
public sealed class UninstallStepTests
{
    static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    const string Vips = "nginx-ha.io/vips";

    static GroupView Group(string key, bool deleting = false, params string[] finalizers) => new(key, deleting, finalizers);
    static ConfigView Config(string node, params string[] held) => new(node, false, held);
    static UninstallSnapshot Snap(GroupView[] groups, params ConfigView[] configs) => new(groups, configs);

    [Fact]
    public void Deletes_every_group_not_yet_being_deleted_and_says_which_nodes_still_hold_the_vips()
    {
        var first = UninstallStep.Next(UninstallState.Start(T0, Timeout),
            Snap([Group("edge/web", false, Vips), Group("lab/api", true, Vips)], Config("lb1", "edge/web"), Config("lb2", "edge/web", "lab/api")), T0);

        Assert.Equal(UninstallOutcome.Continue, first.Outcome);
        Assert.Equal([new DeleteGroup("edge", "web")], first.Actions);
        Assert.Contains("VirtualIpGroup edge/web: deleting", first.Lines);
        Assert.Contains("waiting: VirtualIpGroup edge/web: node(s) lb1, lb2 still hold its virtual IPs; VirtualIpGroup lab/api: node(s) lb2 still hold its virtual IPs",
            first.Lines);

        // The same wait is not said again; a group being deleted is not deleted again.
        var second = UninstallStep.Next(first.State,
            Snap([Group("edge/web", true, Vips), Group("lab/api", true, Vips)], Config("lb1", "edge/web"), Config("lb2", "edge/web", "lab/api")), T0.AddSeconds(1));
        Assert.Equal(UninstallOutcome.Continue, second.Outcome);
        Assert.Empty(second.Actions);
        Assert.Empty(second.Lines);
    }

    [Fact]
    public void Once_the_groups_are_released_the_configs_left_are_deleted_and_then_it_is_done()
    {
        var state = UninstallStep.Next(UninstallState.Start(T0, Timeout), Snap([Group("edge/web", true, Vips)], Config("lb1", "edge/web")), T0).State;

        // The operator let the group go: no node holds it any more. The empty configs are deleted.
        var released = UninstallStep.Next(state, Snap([], Config("lb1"), Config("lb2")), T0.AddSeconds(5));
        Assert.Equal(UninstallOutcome.Continue, released.Outcome);
        Assert.Contains("VirtualIpGroup edge/web: gone, its virtual IPs released by every node", released.Lines);
        Assert.Equal([new DeleteConfig("lb1"), new DeleteConfig("lb2")], released.Actions);

        var done = UninstallStep.Next(released.State, Snap([]), T0.AddSeconds(6));
        Assert.Equal(UninstallOutcome.Done, done.Outcome);
        Assert.Empty(done.Actions);
        Assert.Contains("done: no VirtualIpGroup and no NodeHaConfig left", done.Lines);
    }

    [Fact]
    public void A_group_that_went_while_a_node_still_held_its_vips_fails_the_uninstall_naming_the_node()
    {
        var state = UninstallStep.Next(UninstallState.Start(T0, Timeout), Snap([Group("edge/web", true, Vips)], Config("lb1", "edge/web")), T0).State;

        // Gone, but lb1's config still carries it (the operator's release timeout passed).
        var gone = UninstallStep.Next(state, Snap([], Config("lb1", "edge/web")), T0.AddSeconds(61));
        Assert.Equal(UninstallOutcome.Continue, gone.Outcome);
        Assert.Equal([new DeleteConfig("lb1")], gone.Actions);
        Assert.Contains(gone.Lines, l => l.StartsWith("warning: VirtualIpGroup edge/web went while node(s) lb1 still held", StringComparison.Ordinal));

        var end = UninstallStep.Next(gone.State, Snap([]), T0.AddSeconds(62));
        Assert.Equal(UninstallOutcome.Failed, end.Outcome);
        Assert.Contains("node(s) lb1 still held its virtual IPs", end.Failure);
        Assert.Contains("check ip addr there", end.Failure);
    }

    [Fact]
    public void Groups_still_present_at_the_timeout_fail_it_with_what_they_wait_for()
    {
        var state = UninstallState.Start(T0, Timeout);
        var snapshot = Snap([Group("edge/web", true, Vips)], Config("lb1", "edge/web"));

        Assert.Equal(UninstallOutcome.Continue, UninstallStep.Next(state, snapshot, T0 + Timeout - TimeSpan.FromMilliseconds(1)).Outcome);
        var timedOut = UninstallStep.Next(state, snapshot, T0 + Timeout);
        Assert.Equal(UninstallOutcome.Failed, timedOut.Outcome);
        Assert.StartsWith("timed out after 120 s: VirtualIpGroup edge/web: node(s) lb1 still hold its virtual IPs.", timedOut.Failure);
        Assert.Contains("check that the operator and the agents run", timedOut.Failure);

        // A finalizer of someone else's is named too.
        var foreign = UninstallStep.Next(state, Snap([Group("edge/web", true, "example.com/keep")]), T0 + Timeout);
        Assert.Contains("VirtualIpGroup edge/web: finalizer(s) example.com/keep of others", foreign.Failure);
    }

    /// <summary>The cluster as the runner sees it: deleted groups wait for <see cref="Release"/> as the operator's finalizer does.</summary>
    sealed class FakeApi : IUninstallApi
    {
        readonly object _lock = new();
        readonly List<GroupView> _groups = [];
        readonly List<ConfigView> _configs = [];
        readonly List<UninstallAction> _done = [];
        TaskCompletionSource _read = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public FakeApi(IEnumerable<GroupView> groups, IEnumerable<ConfigView> configs)
        {
            _groups.AddRange(groups);
            _configs.AddRange(configs);
        }

        /// <summary>Completes at the next read.</summary>
        public Task NextRead { get { lock (_lock) return _read.Task; } }
        public IReadOnlyList<UninstallAction> Done { get { lock (_lock) return _done.ToList(); } }
        public IReadOnlyList<ConfigView> Configs { get { lock (_lock) return _configs.ToList(); } }

        public Task<UninstallSnapshot> ReadAsync(CancellationToken cancellationToken)
        {
            TaskCompletionSource read;
            UninstallSnapshot snapshot;
            lock (_lock)
            {
                snapshot = new UninstallSnapshot(_groups.ToList(), _configs.ToList());
                read = _read;
                _read = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            read.SetResult();
            return Task.FromResult(snapshot);
        }

        public Task ExecuteAsync(UninstallAction action, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                _done.Add(action);
                if (action is DeleteGroup g)
                {
                    var i = _groups.FindIndex(x => x.Key == $"{g.Namespace}/{g.Name}");
                    _groups[i] = _groups[i] with { Deleting = true };
                }
                if (action is DeleteConfig c) _configs.RemoveAll(x => x.Node == c.Node);
            }
            return Task.CompletedTask;
        }

        public void Release(string group)
        {
            lock (_lock)
            {
                _groups.RemoveAll(x => x.Key == group);
                for (var i = 0; i < _configs.Count; i++) _configs[i] = _configs[i] with { GroupsHeld = [] };
            }
        }
    }

    /// <summary>Advances the fake clock a second at a time, each time waiting for the poll's read that follows (an event, on the
    /// runner's thread) or the end of the run; no real time is waited for except as a guard against a hang.</summary>
    static async Task<int> AdvanceUntilDone(FakeTimeProvider time, FakeApi api, Task<int> run, TimeSpan limit, Action<TimeSpan>? at = null)
    {
        var start = time.GetUtcNow();
        while (!run.IsCompleted && time.GetUtcNow() - start < limit)
        {
            var read = api.NextRead;
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(run, read).WaitAsync(TimeSpan.FromSeconds(10));
            at?.Invoke(time.GetUtcNow() - start);
        }
        Assert.True(run.IsCompleted, $"the uninstall still ran after {limit} of fake time");
        return await run;
    }

    [Fact]
    public async Task Runner_deletes_the_group_waits_for_its_release_deletes_the_configs_and_exits_0()
    {
        var time = new FakeTimeProvider(T0);
        var api = new FakeApi([Group("edge/web", false, Vips)], [Config("lb1", "edge/web"), Config("lb2", "edge/web")]);
        var output = new StringWriter();
        var error = new StringWriter();
        var run = new UninstallRunner(api, time, output).RunAsync(Timeout, error, CancellationToken.None);

        var exit = await AdvanceUntilDone(time, api, run, Timeout, at: elapsed => { if (elapsed == TimeSpan.FromSeconds(10)) api.Release("edge/web"); });
        Assert.True(exit == 0, error.ToString());
        Assert.Equal([new DeleteGroup("edge", "web"), new DeleteConfig("lb1"), new DeleteConfig("lb2")], api.Done);
        Assert.Empty(api.Configs);
        Assert.Contains("waiting: VirtualIpGroup edge/web: node(s) lb1, lb2 still hold its virtual IPs", output.ToString());
        Assert.Contains("done: no VirtualIpGroup and no NodeHaConfig left", output.ToString());
    }

    [Fact]
    public async Task Runner_gives_up_at_its_timeout_on_the_fake_clock_and_exits_1_with_the_reason()
    {
        var time = new FakeTimeProvider(T0);
        var api = new FakeApi([Group("edge/web", false, Vips)], [Config("lb1", "edge/web")]);
        var error = new StringWriter();
        var run = new UninstallRunner(api, time, new StringWriter()).RunAsync(TimeSpan.FromSeconds(30), error, CancellationToken.None);

        Assert.False(run.IsCompleted);
        Assert.Equal(1, await AdvanceUntilDone(time, api, run, TimeSpan.FromSeconds(60)));
        Assert.Equal(T0.AddSeconds(30), time.GetUtcNow());
        Assert.Contains("nginx-ha-operator uninstall: timed out after 30 s: VirtualIpGroup edge/web: node(s) lb1 still hold its virtual IPs", error.ToString());
        Assert.Equal([new DeleteGroup("edge", "web")], api.Done); // the configs of a group not released are left alone
    }

    [Theory]
    [InlineData("--timeout", "abc", "--timeout: \"abc\"")]
    [InlineData("--timeout", "0s", "--timeout: \"0s\" is not a positive duration")]
    [InlineData("--wait", "1s", "--wait: unknown argument")]
    public void Bad_arguments_exit_2_naming_the_argument(string name, string value, string expected)
    {
        var error = new StringWriter();
        Assert.Equal(2, Program.Run(["uninstall", name, value], new StringWriter(), error));
        Assert.Contains(expected, error.ToString());
        Assert.Contains(Cli.UninstallCommand.Usage, error.ToString());
    }
}
