using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Hardening;

/// <summary>Issue 12, section 0, item 5: one agent per node and per state dir (flock: a second open file description is refused).</summary>
public sealed class AgentLockTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nginx-ha-lock-");
    string Locks => Path.Combine(_dir.FullName, "locks");
    string State(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public void A_second_agent_for_the_same_node_is_refused_naming_the_holder()
    {
        using var first = AgentLock.Acquire("lb1", State("a"), Locks);
        var ex = Assert.Throws<AgentLockedException>(() => AgentLock.Acquire("lb1", State("b"), Locks));
        Assert.StartsWith($"node \"lb1\" already has an agent running in this network namespace (pid {Environment.ProcessId}, lock {Locks}/node-lb1.netns-", ex.Message);
        Assert.EndsWith("stop that agent first, or give this one another --node / --state-dir; nothing was changed", ex.Message);
        // Refused before it touched its own state dir.
        Assert.False(Directory.Exists(State("b")));
    }

    [Fact]
    public void A_second_agent_on_the_same_state_dir_is_refused()
    {
        using var first = AgentLock.Acquire("lb1", State("a"), Locks);
        var ex = Assert.Throws<AgentLockedException>(() => AgentLock.Acquire("lb2", State("a"), Locks));
        Assert.StartsWith($"state directory {State("a")} is in use by another agent (pid {Environment.ProcessId}, lock {State("a")}/agent.lock)", ex.Message);
        // Its node lock was released on the way out: lb2 may start elsewhere.
        using var lb2 = AgentLock.Acquire("lb2", State("c"), Locks);
    }

    [Fact]
    public void Releasing_the_lock_lets_the_next_agent_start()
    {
        AgentLock.Acquire("lb1", State("a"), Locks).Dispose();
        AgentLock.Acquire("lb1", State("a"), Locks).Dispose();
        // The holder's pid, for the second agent's message (read once released: .NET itself locks what it opens).
        Assert.Equal($"{Environment.ProcessId}", File.ReadAllText(Path.Combine(State("a"), "agent.lock")).Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(State("a"), "agent.lock")));
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
