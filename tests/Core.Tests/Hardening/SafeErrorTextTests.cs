using NginxHa.Core.Manifests;
using NginxHa.Core.Text;

namespace NginxHa.Core.Tests.Hardening;

/// <summary>Issue 12, section 0, item 8: error lines escape what could forge or hide log text, and stay short.</summary>
public class SafeErrorTextTests
{
    [Theory]
    [InlineData("a\nb", "a\\nb")]
    [InlineData("evil\u202Etxt.exe", "evil\\u202Etxt.exe")]
    [InlineData("bell\u0007", "bell\\u0007")]
    [InlineData("esc\u001B[31m", "esc\\u001B[31m")]
    [InlineData("cr\rlf", "cr\\rlf")]
    [InlineData("iso\u2066late\u2069", "iso\\u2066late\\u2069")]
    [InlineData("zero\u200Bwidth", "zero\\u200Bwidth")]
    [InlineData("del\u007F", "del\\u007F")]
    [InlineData("plain ünïcode ✓", "plain ünïcode ✓")]
    public void Control_and_bidi_characters_are_escaped(string input, string expected) =>
        Assert.Equal(expected, SafeText.Escape(input));

    [Fact]
    public void A_name_with_a_newline_and_an_override_cannot_forge_a_line()
    {
        var yaml = "apiVersion: v1\nkind: Node\nmetadata:\n  name: \"x\\n2026-01-01T00:00:00.000Z vrid 51: BACKUP -> MASTER\\u202E\\u0007\"\n";
        var error = Assert.Single(ManifestLoader.LoadText("n.yaml", yaml).Errors).ToString();
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain('\u202E', error);
        Assert.DoesNotContain('\u0007', error);
        Assert.Contains("\\n2026-01-01T00:00:00.000Z vrid 51", error);
        Assert.Contains("\\u202E\\u0007", error);
    }

    [Fact]
    public void A_huge_value_gives_a_short_line_that_says_how_long_it_was()
    {
        var huge = new string('a', 3_000_000);
        var yaml = $"apiVersion: v1\nkind: Node\nmetadata:\n  name: \"{huge}\"\n";
        var error = Assert.Single(ManifestLoader.LoadText("n.yaml", yaml).Errors).ToString();
        Assert.True(error.Length < 1000, $"{error.Length} characters");
        Assert.Contains("(3000000 characters)", error);
    }

    [Fact]
    public void A_long_line_is_cut_with_the_count_of_what_was_cut()
    {
        var text = SafeText.Escape(new string('x', 5000));
        Assert.Equal(new string('x', SafeText.MaxLineLength) + "...(3000 more characters)", text);
    }
}
