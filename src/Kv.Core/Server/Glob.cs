namespace Kv.Server;

/// <summary>Glob-style matching as redis's stringmatchlen (util.c): * ? [abc] [^a-z] and \ escapes.</summary>
public static class Glob
{
    /// <summary>True when <paramref name="str"/> matches <paramref name="pattern"/>.</summary>
    public static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> str, bool nocase) => Match(pattern, str, nocase, 0);

    private static bool Match(ReadOnlySpan<byte> p, ReadOnlySpan<byte> s, bool nocase, int nesting)
    {
        if (nesting > 1000) return false;
        while (p.Length > 0 && s.Length >= 0)
        {
            switch (p[0])
            {
                case (byte)'*':
                    while (p.Length > 1 && p[1] == '*') p = p[1..];
                    if (p.Length == 1) return true;
                    for (int i = 0; i <= s.Length; i++)
                        if (Match(p[1..], s[i..], nocase, nesting + 1)) return true;
                    return false;
                case (byte)'?':
                    if (s.Length == 0) return false;
                    s = s[1..];
                    break;
                case (byte)'[':
                {
                    if (s.Length == 0) return false;
                    p = p[1..];
                    bool not = p.Length > 0 && p[0] == '^';
                    if (not) p = p[1..];
                    bool match = false;
                    while (true)
                    {
                        if (p.Length == 0) break;
                        if (p[0] == '\\' && p.Length >= 2)
                        {
                            p = p[1..];
                            if (Eq(p[0], s[0], nocase)) match = true;
                        }
                        else if (p[0] == ']') break;
                        else if (p.Length >= 3 && p[1] == '-')
                        {
                            int start = p[0], end = p[2], c = s[0];
                            if (start > end) (start, end) = (end, start);
                            if (nocase)
                            {
                                start = char.ToLowerInvariant((char)start);
                                end = char.ToLowerInvariant((char)end);
                                c = char.ToLowerInvariant((char)c);
                            }
                            p = p[2..];
                            if (c >= start && c <= end) match = true;
                        }
                        else if (Eq(p[0], s[0], nocase)) match = true;
                        p = p[1..];
                    }
                    if (p.Length == 0)
                    {
                        // Unterminated class: redis steps back so ']' is treated as end of pattern.
                        if (not) match = !match;
                        if (!match) return false;
                        s = s[1..];
                        return s.Length == 0;
                    }
                    if (not) match = !match;
                    if (!match) return false;
                    s = s[1..];
                    break;
                }
                case (byte)'\\':
                    if (p.Length >= 2) p = p[1..];
                    goto default;
                default:
                    if (s.Length == 0 || !Eq(p[0], s[0], nocase)) return false;
                    s = s[1..];
                    break;
            }
            p = p[1..];
            if (s.Length == 0)
            {
                while (p.Length > 0 && p[0] == '*') p = p[1..];
                break;
            }
        }
        return p.Length == 0 && s.Length == 0;
    }

    private static bool Eq(byte a, byte b, bool nocase) =>
        a == b || (nocase && char.ToLowerInvariant((char)a) == char.ToLowerInvariant((char)b));
}
