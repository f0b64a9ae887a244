using System.Globalization;
using System.Text;

namespace NginxHa.Core.Text;

/// <summary>
/// Makes untrusted text safe for one log or error line: control characters (newline, BEL, ESC ...) and the
/// characters that reorder or hide text (bidi overrides such as U+202E, zero-width marks) are written as escapes,
/// so an input can neither forge a line nor hide what it says; long text is cut with a note of how much was cut.
/// </summary>
public static class SafeText
{
    /// <summary>Longest value quoted in a message: enough to recognise it, never megabytes.</summary>
    public const int MaxValueLength = 200;

    /// <summary>Longest whole line an error message may become.</summary>
    public const int MaxLineLength = 2000;

    public static string Escape(string? text, int maxLength = MaxLineLength)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var cut = text.Length > maxLength ? maxLength : text.Length;
        // A surrogate pair is not split in two.
        if (cut < text.Length && cut > 0 && char.IsHighSurrogate(text[cut - 1])) cut--;
        var builder = new StringBuilder(cut + 16);
        for (var i = 0; i < cut; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (NeedsEscape(c, i + 1 < text.Length ? text[i + 1] : '\0', i > 0 ? text[i - 1] : '\0'))
                        builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
                    else
                        builder.Append(c);
                    break;
            }
        }
        if (cut < text.Length)
            builder.Append(CultureInfo.InvariantCulture, $"...({text.Length - cut} more characters)");
        return builder.ToString();
    }

    static bool NeedsEscape(char c, char next, char previous)
    {
        if (char.IsControl(c)) return true; // C0, DEL, C1
        // A lone surrogate cannot be printed as text.
        if (char.IsHighSurrogate(c)) return !char.IsLowSurrogate(next);
        if (char.IsLowSurrogate(c)) return !char.IsHighSurrogate(previous);
        return c switch
        {
            '\u061C' or '\u200B' or '\u200C' or '\u200D' or '\u200E' or '\u200F' => true, // ALM, zero-width, LRM, RLM
            >= '\u202A' and <= '\u202E' => true, // LRE, RLE, PDF, LRO, RLO
            '\u2028' or '\u2029' => true,        // line and paragraph separators
            >= '\u2066' and <= '\u2069' => true, // LRI, RLI, FSI, PDI
            '\uFEFF' => true,                    // zero-width no-break space
            _ => false,
        };
    }
}
