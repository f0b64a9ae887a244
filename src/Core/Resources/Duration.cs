using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace NginxHa.Core.Resources;

/// <summary>Kubernetes-style duration strings: "1s", "100ms", "1m30s", "1.5s" (units h, m, s, ms).</summary>
public static class Duration
{
    private static readonly (string Unit, decimal Milliseconds)[] Units =
        [("ms", 1m), ("h", 3_600_000m), ("m", 60_000m), ("s", 1000m)];

    /// <summary>Parses to whole milliseconds. On failure, reason completes "&lt;value&gt; ...".</summary>
    public static bool TryParse(string? text, out TimeSpan value, [NotNullWhen(false)] out string? reason)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            reason = "is not a duration (use e.g. 1s or 100ms)";
            return false;
        }

        decimal total = 0;
        var position = 0;
        while (position < text.Length)
        {
            var start = position;
            while (position < text.Length && (char.IsAsciiDigit(text[position]) || text[position] == '.')) position++;
            if (position == start || !decimal.TryParse(text.AsSpan(start, position - start), NumberStyles.AllowDecimalPoint,
                    CultureInfo.InvariantCulture, out var number))
            {
                reason = "is not a duration (use e.g. 1s or 100ms)";
                return false;
            }

            var unit = Units.FirstOrDefault(u => text.AsSpan(position).StartsWith(u.Unit, StringComparison.Ordinal));
            if (unit.Unit is null)
            {
                reason = "is not a duration: a number needs a unit (h, m, s or ms), e.g. 1s or 100ms";
                return false;
            }
            position += unit.Unit.Length;
            total += number * unit.Milliseconds;
            if (total > (decimal)TimeSpan.FromDays(1).TotalMilliseconds)
            {
                reason = "is longer than a day";
                return false;
            }
        }

        if (total != decimal.Truncate(total))
        {
            reason = "is not a whole number of milliseconds";
            return false;
        }
        value = TimeSpan.FromMilliseconds((double)total);
        reason = null;
        return true;
    }

    /// <summary>Canonical text: "3s" for whole seconds, "150ms" otherwise.</summary>
    public static string Format(TimeSpan value)
    {
        var milliseconds = (long)value.TotalMilliseconds;
        return milliseconds % 1000 == 0
            ? (milliseconds / 1000).ToString(CultureInfo.InvariantCulture) + "s"
            : milliseconds.ToString(CultureInfo.InvariantCulture) + "ms";
    }
}
