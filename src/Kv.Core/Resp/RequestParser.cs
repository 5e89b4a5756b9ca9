using System.Buffers.Text;

namespace Kv.Resp;

/// <summary>
/// Thrown by <see cref="RequestParser"/> when a client sends bytes that are not a valid request.
/// <see cref="Exception.Message"/> is the exact reply text redis-server 7.0.15 sends before closing the
/// connection (networking.c, processMultibulkBuffer / processInlineBuffer), without the leading "-ERR ".
/// </summary>
public sealed class ProtocolException(string message) : Exception(message);

/// <summary>
/// One parsed request: the argument vector as (offset, length) slices of the session's receive buffer.
/// Valid only until the receive buffer is compacted or refilled; handlers copy what they keep.
/// </summary>
public sealed class Request
{
    /// <summary>Buffer the slices point into.</summary>
    public byte[] Buffer = [];
    /// <summary>Start offset of each argument in <see cref="Buffer"/>.</summary>
    public int[] Offsets = new int[16];
    /// <summary>Length in bytes of each argument.</summary>
    public int[] Lengths = new int[16];
    /// <summary>Number of arguments (argc); 0 for an empty request that must be ignored.</summary>
    public int Count;
    /// <summary>Total bytes of the request on the wire (used for replication offsets).</summary>
    public int WireLength;
    /// <summary>True when the request came in the inline (space-separated) form.</summary>
    public bool Inline;

    /// <summary>Argument <paramref name="i"/> as a span over the receive buffer.</summary>
    public ReadOnlySpan<byte> this[int i] => new(Buffer, Offsets[i], Lengths[i]);

    /// <summary>Argument <paramref name="i"/> copied into a new array (for storing).</summary>
    public byte[] ToArray(int i) => this[i].ToArray();

    internal void Add(byte[] buffer, int offset, int length)
    {
        if (Count == Offsets.Length)
        {
            Array.Resize(ref Offsets, Count * 2);
            Array.Resize(ref Lengths, Count * 2);
        }
        Buffer = buffer;
        Offsets[Count] = offset;
        Lengths[Count] = length;
        Count++;
    }

    /// <summary>Replaces the argument vector with owned copies (used for inline requests and synthetic commands).</summary>
    public void SetOwned(IReadOnlyList<byte[]> args)
    {
        int total = 0;
        foreach (var a in args) total += a.Length;
        var buf = new byte[total];
        Count = 0;
        int pos = 0;
        foreach (var a in args)
        {
            a.CopyTo(buf, pos);
            Add(buf, pos, a.Length);
            pos += a.Length;
        }
        Buffer = buf;
    }
}

/// <summary>
/// Incremental RESP request parser, multibulk (<c>*N\r\n$len\r\n...</c>) and inline forms, with the limits and
/// error texts of redis-server 7.0.15 (networking.c: PROTO_INLINE_MAX_SIZE 64 KiB, multibulk length at most
/// INT_MAX (1024*1024 when not authenticated... see <see cref="TryParse"/>), bulk length at most proto-max-bulk-len).
/// Stateless between calls: it re-scans a partial request from its start, which is cheap because a partial
/// request is rescanned at most once per received chunk and bulk payloads are skipped, not read.
/// </summary>
public static class RequestParser
{
    /// <summary>Longest inline request or header line accepted (PROTO_INLINE_MAX_SIZE).</summary>
    public const int InlineMaxSize = 64 * 1024;

    /// <summary>
    /// Tries to parse one request from <paramref name="buf"/>[<paramref name="start"/>..<paramref name="end"/>).
    /// </summary>
    /// <param name="buf">Receive buffer.</param>
    /// <param name="start">First unconsumed byte.</param>
    /// <param name="end">One past the last received byte.</param>
    /// <param name="req">Filled on success; <c>Count == 0</c> means an empty request to skip.</param>
    /// <param name="consumed">Bytes used on success.</param>
    /// <param name="maxBulkLen">proto-max-bulk-len; bulk lengths above it are a protocol error (unless <paramref name="trusted"/>).</param>
    /// <param name="authenticated">False while the client still needs AUTH: then multibulk count is limited to 10 and bulk length to 16384 (7.0 behaviour).</param>
    /// <param name="trusted">True for the master link (exempt from proto-max-bulk-len).</param>
    /// <param name="needBytes">On incomplete input, a lower bound of bytes needed from <paramref name="start"/> (lets the caller grow its buffer once).</param>
    /// <returns>True when a whole request was parsed; false when more bytes are needed.</returns>
    /// <exception cref="ProtocolException">The input cannot be a valid request.</exception>
    public static bool TryParse(byte[] buf, int start, int end, Request req, out int consumed, long maxBulkLen,
        bool authenticated, bool trusted, out long needBytes)
    {
        req.Count = 0;
        req.Inline = false;
        consumed = 0;
        needBytes = 0;
        if (start >= end) return false;
        if (buf[start] != (byte)'*') return TryParseInline(buf, start, end, req, out consumed);

        int pos = start + 1;
        int nl = IndexOfCrlf(buf, pos, end);
        if (nl < 0)
        {
            if (end - start > InlineMaxSize) throw new ProtocolException("Protocol error: too big mbulk count string");
            return false;
        }
        if (!TryParseLong(buf.AsSpan(pos, nl - pos), out long count) || count > int.MaxValue)
            throw new ProtocolException("Protocol error: invalid multibulk length");
        if (!authenticated && count > 10)
            throw new ProtocolException("Protocol error: unauthenticated multibulk length");
        pos = nl + 2;
        if (count <= 0)
        {
            consumed = pos - start;
            req.WireLength = consumed;
            return true;
        }
        for (long i = 0; i < count; i++)
        {
            if (pos >= end) return false;
            if (buf[pos] != (byte)'$')
                throw new ProtocolException($"Protocol error: expected '$', got '{(char)buf[pos]}'");
            nl = IndexOfCrlf(buf, pos + 1, end);
            if (nl < 0)
            {
                if (end - pos > InlineMaxSize) throw new ProtocolException("Protocol error: too big bulk count string");
                return false;
            }
            if (!TryParseLong(buf.AsSpan(pos + 1, nl - pos - 1), out long len) || len < 0 || (!trusted && len > maxBulkLen))
                throw new ProtocolException("Protocol error: invalid bulk length");
            if (!authenticated && len > 16384)
                throw new ProtocolException("Protocol error: unauthenticated bulk length");
            pos = nl + 2;
            if (end - pos < len + 2)
            {
                needBytes = (pos - start) + len + 2;
                return false;
            }
            req.Add(buf, pos, (int)len);
            pos += (int)len + 2;
        }
        consumed = pos - start;
        req.WireLength = consumed;
        return true;
    }

    private static bool TryParseInline(byte[] buf, int start, int end, Request req, out int consumed)
    {
        consumed = 0;
        // processInlineBuffer finds the newline with strchr: a NUL byte before it hides it (redis then waits for
        // more input until the inline limit), so search only up to the first NUL.
        int nul = Array.IndexOf(buf, (byte)0, start, end - start);
        int scanEnd = nul < 0 ? end : nul;
        int nl = Array.IndexOf(buf, (byte)'\n', start, scanEnd - start);
        if (nl < 0)
        {
            if (end - start > InlineMaxSize) throw new ProtocolException("Protocol error: too big inline request");
            return false;
        }
        int lineEnd = nl;
        if (lineEnd > start && buf[lineEnd - 1] == (byte)'\r') lineEnd--;
        var args = SplitArgs(buf.AsSpan(start, lineEnd - start))
                   ?? throw new ProtocolException("Protocol error: unbalanced quotes in request");
        consumed = nl + 1 - start;
        req.WireLength = consumed;
        req.Inline = true;
        if (args.Count > 0) req.SetOwned(args);
        else req.Count = 0;
        return true;
    }

    /// <summary>
    /// Splits a line the way sdssplitargs does (sds.c): whitespace separated, "double quotes" with \n \r \t \b \a
    /// \\ \" and \xHH escapes, 'single quotes' with \' only. A closing quote must be followed by a space or the end.
    /// </summary>
    /// <returns>The arguments, or null for unbalanced quotes.</returns>
    public static List<byte[]>? SplitArgs(ReadOnlySpan<byte> line)
    {
        var result = new List<byte[]>();
        int p = 0;
        var cur = new List<byte>();
        while (true)
        {
            while (p < line.Length && IsSpace(line[p])) p++;
            if (p >= line.Length) return result;
            bool inq = false, insq = false, done = false;
            cur.Clear();
            while (!done)
            {
                if (inq)
                {
                    if (p >= line.Length) return null;
                    if (line[p] == '\\' && p + 3 < line.Length && line[p + 1] == 'x' && IsHex(line[p + 2]) && IsHex(line[p + 3]))
                    {
                        cur.Add((byte)(HexVal(line[p + 2]) * 16 + HexVal(line[p + 3])));
                        p += 3;
                    }
                    else if (line[p] == '\\' && p + 1 < line.Length)
                    {
                        p++;
                        cur.Add(line[p] switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            var c => c,
                        });
                    }
                    else if (line[p] == '"')
                    {
                        if (p + 1 < line.Length && !IsSpace(line[p + 1])) return null;
                        done = true;
                    }
                    else cur.Add(line[p]);
                }
                else if (insq)
                {
                    if (p >= line.Length) return null;
                    if (line[p] == '\\' && p + 1 < line.Length && line[p + 1] == '\'')
                    {
                        p++;
                        cur.Add((byte)'\'');
                    }
                    else if (line[p] == '\'')
                    {
                        if (p + 1 < line.Length && !IsSpace(line[p + 1])) return null;
                        done = true;
                    }
                    else cur.Add(line[p]);
                }
                else
                {
                    if (p >= line.Length) { done = true; break; }
                    switch (line[p])
                    {
                        case (byte)' ': case (byte)'\n': case (byte)'\r': case (byte)'\t': case 0:
                            done = true; break;
                        case (byte)'"': inq = true; break;
                        case (byte)'\'': insq = true; break;
                        default: cur.Add(line[p]); break;
                    }
                }
                if (p < line.Length) p++;
            }
            result.Add(cur.ToArray());
        }
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';
    private static bool IsHex(byte c) => c is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';
    private static int HexVal(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static int IndexOfCrlf(byte[] buf, int from, int end)
    {
        int i = Array.IndexOf(buf, (byte)'\r', from, end - from);
        while (i >= 0)
        {
            if (i + 1 >= end) return -1;
            if (buf[i + 1] == (byte)'\n') return i;
            i = Array.IndexOf(buf, (byte)'\r', i + 1, end - i - 1);
        }
        return -1;
    }

    /// <summary>Parses a signed decimal integer as string2ll does (no spaces, no '+', no leading zeros except "0").</summary>
    public static bool TryParseLong(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        if (s.Length == 1 && s[0] == '0') return true;
        bool neg = s[0] == '-';
        int i = neg ? 1 : 0;
        if (i >= s.Length || s[i] < '1' || s[i] > '9') return false;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        if (neg)
        {
            if (v > (ulong)long.MaxValue + 1) return false;
            value = (long)(0 - v);
        }
        else
        {
            if (v > long.MaxValue) return false;
            value = (long)v;
        }
        return true;
    }
}
