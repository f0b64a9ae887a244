using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Tests.Platform;

/// <summary>Which mappings of the agent's binary get MADV_RANDOM: its read-only ones, never its writable data or another file.</summary>
public sealed class ExecutablePagesTests
{
    const string Maps = """
        55ab3e456000-55ab3e472000 r--p 00000000 fe:00 5327197                    /opt/agent/nginx-ha-agent
        55ab3e472000-55ab3ec11000 r-xp 0001c000 fe:00 5327197                    /opt/agent/nginx-ha-agent
        55ab3ec11000-55ab3f110000 r--p 007bb000 fe:00 5327197                    /opt/agent/nginx-ha-agent
        55ab3f3f6000-55ab3f42f000 rw-p 00f9f000 fe:00 5327197                    /opt/agent/nginx-ha-agent
        55ab3f42f000-55ab3f8ab000 rw-p 00000000 00:00 0 
        7f63a02c5000-7f63a0542000 r-xp 000c5000 fe:00 332131                     /usr/lib/x86_64-linux-gnu/libcrypto.so.3
        7f63a0620000-7f63a0682000 r--p 0041f000 fe:00 332131                     /opt/agent/nginx-ha-agent.old (deleted)
        """;

    [Fact]
    public void Only_the_read_only_mappings_of_the_binary_itself_are_chosen()
    {
        var chosen = ExecutablePages.ReadOnlyMappings(Maps, "/opt/agent/nginx-ha-agent").ToArray();

        Assert.Equal(
        [
            (0x55ab3e456000UL, 0x1c000UL),
            (0x55ab3e472000UL, 0x79f000UL),
            (0x55ab3ec11000UL, 0x4ff000UL),
        ], chosen);
    }

    [Fact]
    public void A_path_with_spaces_matches_whole()
    {
        const string maps = "7f0000000000-7f0000001000 r-xp 00000000 fe:00 1   /opt/my agent/nginx-ha-agent\n";
        Assert.Single(ExecutablePages.ReadOnlyMappings(maps, "/opt/my agent/nginx-ha-agent"));
        Assert.Empty(ExecutablePages.ReadOnlyMappings(maps, "/opt/my"));
    }
}
