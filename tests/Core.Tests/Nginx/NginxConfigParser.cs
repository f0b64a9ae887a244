using System.Text;

namespace NginxHa.Core.Tests.Nginx;

/// <summary>One directive or block opening as nginx's parser sees it; "}" closes a block.</summary>
public sealed record NginxStatement(string Name, IReadOnlyList<string> Arguments);

/// <summary>
/// A re-implementation of nginx's tokenizer (ngx_conf_read_token) for tests: words split on
/// whitespace, ";" and "{" outside quotes, "#" comments, '\' escapes, and the same unescaping
/// of \" \' \\ \t \r \n. It shows how nginx would split rendered text into arguments.
/// </summary>
public static class NginxConfigParser
{
    public static IReadOnlyList<NginxStatement> Parse(string text)
    {
        var statements = new List<NginxStatement>();
        var words = new List<string>();
        var index = 0;
        while (index < text.Length)
        {
            var character = text[index];
            if (char.IsWhiteSpace(character)) { index++; continue; }
            switch (character)
            {
                case ';':
                    if (words.Count == 0) throw new FormatException($"unexpected \";\" at {index}");
                    statements.Add(new(words[0], words.Skip(1).ToList()));
                    words.Clear();
                    index++;
                    continue;
                case '{':
                    if (words.Count == 0) throw new FormatException($"unexpected \"{{\" at {index}");
                    statements.Add(new(words[0], [.. words.Skip(1), "{"]));
                    words.Clear();
                    index++;
                    continue;
                case '}':
                    if (words.Count > 0) throw new FormatException($"unexpected \"}}\" at {index}");
                    statements.Add(new("}", []));
                    index++;
                    continue;
                case '#':
                    while (index < text.Length && text[index] != '\n') index++;
                    continue;
            }
            words.Add(ReadWord(text, ref index));
        }
        if (words.Count > 0) throw new FormatException("unexpected end of file, expecting \";\" or \"}\"");
        return statements;
    }

    private static string ReadWord(string text, ref int index)
    {
        var quote = text[index] is '"' or '\'' ? text[index] : '\0';
        if (quote != '\0') index++;
        var word = new StringBuilder();
        while (index < text.Length)
        {
            var character = text[index];
            if (character == '\\' && index + 1 < text.Length)
            {
                var next = text[index + 1];
                word.Append(next switch
                {
                    '"' or '\'' or '\\' => next.ToString(),
                    't' => "\t",
                    'r' => "\r",
                    'n' => "\n",
                    _ => "\\" + next,
                });
                index += 2;
                continue;
            }
            if (quote != '\0')
            {
                index++;
                if (character == quote)
                {
                    if (index < text.Length && !char.IsWhiteSpace(text[index]) && text[index] is not (';' or '{'))
                        throw new FormatException($"unexpected \"{text[index]}\" after a quoted string at {index}");
                    return word.ToString();
                }
                word.Append(character);
                continue;
            }
            // "${" inside a word is a variable, not a block.
            if (character == '{' && word.Length > 0 && word[^1] == '$') { word.Append(character); index++; continue; }
            if (char.IsWhiteSpace(character) || character is ';' or '{') return word.ToString();
            word.Append(character);
            index++;
        }
        if (quote != '\0') throw new FormatException("unexpected end of file inside a quoted string");
        return word.ToString();
    }
}
