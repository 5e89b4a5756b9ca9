using System.Globalization;
using System.Text;

namespace Kv.Tests.Infrastructure;

/// <summary>
/// RESP2/RESP3 framing and display helpers. <see cref="FrameLength"/> tells where one complete reply ends
/// (it does not validate contents beyond what framing needs); <see cref="Escape"/> renders raw reply bytes
/// readably (<c>\r\n</c> shown literally, bytes outside printable ASCII as <c>\xHH</c>).
/// </summary>
public static class RespFormat
{
    /// <summary>
    /// Length in bytes of the first complete RESP frame in <paramref name="buf"/>, or -1 when more bytes are
    /// needed. Handles RESP2 (<c>+ - : $ *</c>) and RESP3 (<c>_ , # ( ! = % ~ &gt; |</c>); an attribute
    /// (<c>|</c>) is returned together with the reply that follows it. Throws <see cref="FormatException"/> on a
    /// byte that cannot start a frame.
    /// </summary>
    public static int FrameLength(ReadOnlySpan<byte> buf)
    {
        int end = Parse(buf, 0);
        return end;
    }

    private static int Parse(ReadOnlySpan<byte> b, int pos)
    {
        while (true)
        {
            if (pos >= b.Length) return -1;
            byte type = b[pos];
            int nl = b[pos..].IndexOf("\r\n"u8);
            if (nl < 0) return -1;
            int lineEnd = pos + nl;          // index of '\r'
            int next = lineEnd + 2;
            switch (type)
            {
                case (byte)'+' or (byte)'-' or (byte)':' or (byte)'_' or (byte)',' or (byte)'#' or (byte)'(':
                    return next;
                case (byte)'$' or (byte)'!' or (byte)'=':
                {
                    long len = ParseLong(b[(pos + 1)..lineEnd]);
                    if (len < 0) return next;
                    long total = next + len + 2;
                    return total <= b.Length ? (int)total : -1;
                }
                case (byte)'*' or (byte)'~' or (byte)'>' or (byte)'%' or (byte)'|':
                {
                    long n = ParseLong(b[(pos + 1)..lineEnd]);
                    if (type is (byte)'%' or (byte)'|') n *= 2;
                    int p = next;
                    for (long i = 0; i < n; i++)
                    {
                        p = Parse(b, p);
                        if (p < 0) return -1;
                    }
                    if (type != (byte)'|') return p;
                    pos = p; // an attribute is followed by the actual reply
                    continue;
                }
                default:
                    throw new FormatException($"not a RESP frame start: 0x{type:x2} in {Escape(b[pos..Math.Min(b.Length, pos + 64)])}");
            }
        }
    }

    private static long ParseLong(ReadOnlySpan<byte> s)
    {
        if (s.Length == 1 && s[0] == (byte)'?') throw new FormatException("streamed RESP3 aggregates are not supported");
        return long.Parse(Encoding.ASCII.GetString(s), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Splits an aggregate reply (<c>* ~ &gt; %</c>, or <c>|</c> attribute) into its top-level element frames; returns
    /// null for a non-aggregate or null aggregate. For a map (<c>%</c>) keys and values are separate elements.
    /// </summary>
    public static List<byte[]>? Elements(ReadOnlySpan<byte> reply)
    {
        if (reply.Length == 0 || reply[0] is not ((byte)'*' or (byte)'~' or (byte)'>' or (byte)'%')) return null;
        int nl = reply.IndexOf("\r\n"u8);
        long n = ParseLong(reply[1..nl]);
        if (n < 0) return null;
        if (reply[0] == (byte)'%') n *= 2;
        var list = new List<byte[]>();
        int p = nl + 2;
        for (long i = 0; i < n; i++)
        {
            int len = Parse(reply[p..], 0);
            if (len < 0) throw new FormatException("incomplete aggregate");
            list.Add(reply.Slice(p, len).ToArray());
            p += len;
        }
        return list;
    }

    /// <summary>The header line of a frame (e.g. <c>*3</c>) without CRLF.</summary>
    public static string Header(ReadOnlySpan<byte> reply)
    {
        int nl = reply.IndexOf("\r\n"u8);
        return Encoding.Latin1.GetString(nl < 0 ? reply : reply[..nl]);
    }

    /// <summary>True when <paramref name="reply"/> starts with the ASCII text <paramref name="prefix"/>.</summary>
    public static bool StartsWith(ReadOnlySpan<byte> reply, string prefix)
        => reply.StartsWith(Encoding.ASCII.GetBytes(prefix));

    /// <summary>
    /// The integer of a <c>:</c> reply, or null if it is something else.
    /// </summary>
    public static long? Integer(ReadOnlySpan<byte> reply)
        => reply.Length > 3 && reply[0] == (byte)':' ? ParseLong(reply[1..^2]) : null;

    /// <summary>
    /// The payload of a <c>+</c>, <c>-</c> simple reply or <c>$</c> bulk as text (UTF-8), or null for a null bulk or
    /// other types.
    /// </summary>
    public static string? Text(ReadOnlySpan<byte> reply)
    {
        if (reply.Length < 3) return null;
        int nl = reply.IndexOf("\r\n"u8);
        switch (reply[0])
        {
            case (byte)'+' or (byte)'-' or (byte)':' or (byte)',' or (byte)'(' or (byte)'#':
                return Encoding.UTF8.GetString(reply[1..nl]);
            case (byte)'$' or (byte)'=' or (byte)'!':
                long len = ParseLong(reply[1..nl]);
                return len < 0 ? null : Encoding.UTF8.GetString(reply.Slice(nl + 2, (int)len));
            default:
                return null;
        }
    }

    /// <summary>
    /// Renders bytes readably: printable ASCII as is, <c>\r</c> <c>\n</c> <c>\t</c> <c>\\</c> <c>\"</c> escaped,
    /// anything else as <c>\xHH</c>. Strings longer than <paramref name="max"/> bytes are cut with "...(N bytes)".
    /// </summary>
    public static string Escape(ReadOnlySpan<byte> bytes, int max = 2000)
    {
        var sb = new StringBuilder(Math.Min(bytes.Length, max) + 16);
        int n = Math.Min(bytes.Length, max);
        for (int i = 0; i < n; i++)
        {
            byte c = bytes[i];
            switch (c)
            {
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'"': sb.Append("\\\""); break;
                default:
                    if (c >= 0x20 && c < 0x7f) sb.Append((char)c);
                    else sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
                    break;
            }
        }
        if (bytes.Length > max) sb.Append("...(").Append(bytes.Length).Append(" bytes)");
        return sb.ToString();
    }

    /// <summary>
    /// Encodes a command as a RESP multibulk (<c>*N\r\n$len\r\narg\r\n...</c>).
    /// </summary>
    public static byte[] MultiBulk(IReadOnlyList<byte[]> args)
    {
        var ms = new MemoryStream();
        void W(string s) { var b = Encoding.ASCII.GetBytes(s); ms.Write(b, 0, b.Length); }
        W($"*{args.Count}\r\n");
        foreach (var a in args)
        {
            W($"${a.Length}\r\n");
            ms.Write(a, 0, a.Length);
            W("\r\n");
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Decodes C-style escapes in <paramref name="s"/> (<c>\r \n \t \0 \\ \" \xHH</c>); other characters are
    /// encoded as UTF-8. Used for raw byte strings in scripts.
    /// </summary>
    public static byte[] Unescape(string s)
    {
        var ms = new MemoryStream();
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\\' && i + 1 < s.Length)
            {
                char e = s[++i];
                switch (e)
                {
                    case 'r': ms.WriteByte((byte)'\r'); break;
                    case 'n': ms.WriteByte((byte)'\n'); break;
                    case 't': ms.WriteByte((byte)'\t'); break;
                    case '0': ms.WriteByte(0); break;
                    case 'a': ms.WriteByte(7); break;
                    case 'b': ms.WriteByte(8); break;
                    case 'x' when i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]):
                        ms.WriteByte(byte.Parse(s.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        i += 2;
                        break;
                    default:
                        var eb = Encoding.UTF8.GetBytes(e.ToString());
                        ms.Write(eb, 0, eb.Length);
                        break;
                }
            }
            else
            {
                var cb = Encoding.UTF8.GetBytes(c.ToString());
                ms.Write(cb, 0, cb.Length);
            }
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Splits a command line into arguments like redis-cli (sdssplitargs): whitespace separates; "double quotes"
    /// take <c>\xHH \n \r \t \b \a \\ \"</c> escapes; 'single quotes' take <c>\'</c>. Throws
    /// <see cref="FormatException"/> on unbalanced quotes.
    /// </summary>
    public static List<byte[]> SplitArgs(string line)
    {
        var result = new List<byte[]>();
        int i = 0;
        while (true)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i])) i++;
            if (i >= line.Length) return result;
            var cur = new MemoryStream();
            bool inDq = false, inSq = false, done = false;
            while (!done)
            {
                if (inDq)
                {
                    if (i >= line.Length) throw new FormatException($"unbalanced quotes in: {line}");
                    char c = line[i];
                    if (c == '\\' && i + 3 < line.Length && line[i + 1] == 'x' && Uri.IsHexDigit(line[i + 2]) && Uri.IsHexDigit(line[i + 3]))
                    {
                        cur.WriteByte(byte.Parse(line.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        i += 3;
                    }
                    else if (c == '\\' && i + 1 < line.Length)
                    {
                        i++;
                        byte b = line[i] switch { 'n' => (byte)'\n', 'r' => (byte)'\r', 't' => (byte)'\t', 'b' => 8, 'a' => 7, _ => 0 };
                        if (b != 0) cur.WriteByte(b);
                        else { var eb = Encoding.UTF8.GetBytes(line[i].ToString()); cur.Write(eb, 0, eb.Length); }
                    }
                    else if (c == '"')
                    {
                        if (i + 1 < line.Length && !char.IsWhiteSpace(line[i + 1]))
                            throw new FormatException($"closing quote must be followed by a space in: {line}");
                        done = true;
                    }
                    else
                    {
                        var cb = Encoding.UTF8.GetBytes(c.ToString());
                        cur.Write(cb, 0, cb.Length);
                    }
                }
                else if (inSq)
                {
                    if (i >= line.Length) throw new FormatException($"unbalanced quotes in: {line}");
                    char c = line[i];
                    if (c == '\\' && i + 1 < line.Length && line[i + 1] == '\'')
                    {
                        i++;
                        cur.WriteByte((byte)'\'');
                    }
                    else if (c == '\'')
                    {
                        if (i + 1 < line.Length && !char.IsWhiteSpace(line[i + 1]))
                            throw new FormatException($"closing quote must be followed by a space in: {line}");
                        done = true;
                    }
                    else
                    {
                        var cb = Encoding.UTF8.GetBytes(c.ToString());
                        cur.Write(cb, 0, cb.Length);
                    }
                }
                else
                {
                    if (i >= line.Length) { done = true; break; }
                    char c = line[i];
                    if (char.IsWhiteSpace(c)) { done = true; break; }
                    if (c == '"') inDq = true;
                    else if (c == '\'') inSq = true;
                    else
                    {
                        var cb = Encoding.UTF8.GetBytes(c.ToString());
                        cur.Write(cb, 0, cb.Length);
                    }
                }
                i++;
            }
            result.Add(cur.ToArray());
        }
    }
}
