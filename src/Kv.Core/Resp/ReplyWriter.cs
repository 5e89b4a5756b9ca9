using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Kv.Resp;

/// <summary>
/// Growable output buffer that encodes replies in RESP2 or RESP3 (chosen per client by HELLO), mirroring the
/// addReply* family of redis 7.0.15 (networking.c). Where RESP2 and RESP3 differ (null, map, set, double, bool,
/// push) the method name says the logical type and the writer picks the wire form.
/// Not thread-safe: a client's writer is only touched while holding the server's execution lock.
/// </summary>
public sealed class ReplyWriter
{
    private byte[] _buf;
    private int _len;

    /// <summary>Creates a writer with an initial capacity in bytes.</summary>
    public ReplyWriter(int capacity = 16 * 1024) => _buf = new byte[capacity];

    /// <summary>Protocol version: 2 or 3.</summary>
    public int Resp { get; set; } = 2;

    /// <summary>Bytes currently buffered.</summary>
    public int Length => _len;

    /// <summary>The buffered bytes.</summary>
    public ReadOnlySpan<byte> Written => new(_buf, 0, _len);

    /// <summary>The buffered bytes as memory (valid until the next write or <see cref="Clear"/>).</summary>
    public ReadOnlyMemory<byte> WrittenMemory => new(_buf, 0, _len);

    /// <summary>Drops all buffered bytes; shrinks a buffer that grew past 1 MiB.</summary>
    public void Clear()
    {
        _len = 0;
        if (_buf.Length > 1024 * 1024) _buf = new byte[16 * 1024];
    }

    /// <summary>Truncates to <paramref name="length"/> bytes (used to discard replies, e.g. CLIENT REPLY OFF).</summary>
    public void Truncate(int length) => _len = Math.Min(_len, length);

    /// <summary>Exchanges the internal buffers of two writers (O(1); used to hand output to a sender).</summary>
    public void SwapWith(ReplyWriter other)
    {
        (_buf, other._buf) = (other._buf, _buf);
        (_len, other._len) = (other._len, _len);
    }

    private Span<byte> Reserve(int n)
    {
        if (_len + n > _buf.Length)
        {
            int size = Math.Max(_buf.Length * 2, _len + n);
            Array.Resize(ref _buf, size);
        }
        return _buf.AsSpan(_len, n);
    }

    /// <summary>Appends raw protocol bytes.</summary>
    public void WriteRaw(ReadOnlySpan<byte> data)
    {
        data.CopyTo(Reserve(data.Length));
        _len += data.Length;
    }

    private void WriteLine(byte prefix, long n)
    {
        var s = Reserve(24);
        s[0] = prefix;
        Utf8Formatter.TryFormat(n, s[1..], out int w);
        s[1 + w] = (byte)'\r';
        s[2 + w] = (byte)'\n';
        _len += w + 3;
    }

    /// <summary>"+OK".</summary>
    public void Ok() => WriteRaw("+OK\r\n"u8);

    /// <summary>Simple string "+text" (text must not contain CR or LF).</summary>
    public void Simple(string text)
    {
        var n = Encoding.UTF8.GetByteCount(text);
        var s = Reserve(n + 3);
        s[0] = (byte)'+';
        Encoding.UTF8.GetBytes(text, s[1..]);
        s[n + 1] = (byte)'\r';
        s[n + 2] = (byte)'\n';
        _len += n + 3;
    }

    /// <summary>Simple string from bytes.</summary>
    public void Simple(ReadOnlySpan<byte> text)
    {
        var s = Reserve(text.Length + 3);
        s[0] = (byte)'+';
        text.CopyTo(s[1..]);
        s[text.Length + 1] = (byte)'\r';
        s[text.Length + 2] = (byte)'\n';
        _len += text.Length + 3;
    }

    /// <summary>
    /// Error reply. <paramref name="text"/> is the full text including the code ("ERR ...", "WRONGTYPE ...");
    /// a text without an upper-case code word gets "ERR " prepended as addReplyError does. CR/LF become spaces.
    /// </summary>
    public void Error(string text)
    {
        var s = text.Replace('\r', ' ').Replace('\n', ' ');
        WriteRaw("-"u8);
        int n = Encoding.UTF8.GetByteCount(s);
        Encoding.UTF8.GetBytes(s, Reserve(n));
        _len += n;
        WriteRaw("\r\n"u8);
    }

    /// <summary>
    /// Error reply from raw bytes (must include the code, e.g. "ERR unknown command 'x'"): bytes are sent as they
    /// are, CR and LF become spaces (addReplyErrorLength + sdsmapchars), so arbitrary client bytes echo unchanged.
    /// </summary>
    public void ErrorBytes(ReadOnlySpan<byte> text)
    {
        WriteRaw("-"u8);
        var dst = Reserve(text.Length);
        for (int i = 0; i < text.Length; i++) dst[i] = text[i] is (byte)'\r' or (byte)'\n' ? (byte)' ' : text[i];
        _len += text.Length;
        WriteRaw("\r\n"u8);
    }

    /// <summary>Integer ":n".</summary>
    public void Integer(long n) => WriteLine((byte)':', n);

    /// <summary>Bulk string "$len\r\n...\r\n".</summary>
    public void Bulk(ReadOnlySpan<byte> data)
    {
        WriteLine((byte)'$', data.Length);
        var s = Reserve(data.Length + 2);
        data.CopyTo(s);
        s[data.Length] = (byte)'\r';
        s[data.Length + 1] = (byte)'\n';
        _len += data.Length + 2;
    }

    /// <summary>Bulk string of UTF-8 text.</summary>
    public void Bulk(string text) => Bulk(Encoding.UTF8.GetBytes(text));

    /// <summary>Bulk string of the decimal representation of <paramref name="n"/>.</summary>
    public void BulkLong(long n)
    {
        Span<byte> tmp = stackalloc byte[24];
        Utf8Formatter.TryFormat(n, tmp, out int w);
        Bulk(tmp[..w]);
    }

    /// <summary>Null bulk: RESP2 "$-1", RESP3 "_" (addReplyNull).</summary>
    public void Null()
    {
        if (Resp >= 3) WriteRaw("_\r\n"u8);
        else WriteRaw("$-1\r\n"u8);
    }

    /// <summary>Null array: RESP2 "*-1", RESP3 "_" (addReplyNullArray).</summary>
    public void NullArray()
    {
        if (Resp >= 3) WriteRaw("_\r\n"u8);
        else WriteRaw("*-1\r\n"u8);
    }

    /// <summary>Array header "*n".</summary>
    public void ArrayHeader(long n) => WriteLine((byte)'*', n);

    /// <summary>Map header: RESP3 "%n", RESP2 "*2n" (addReplyMapLen).</summary>
    public void MapHeader(long n) => WriteLine(Resp >= 3 ? (byte)'%' : (byte)'*', Resp >= 3 ? n : n * 2);

    /// <summary>Set header: RESP3 "~n", RESP2 "*n" (addReplySetLen).</summary>
    public void SetHeader(long n) => WriteLine(Resp >= 3 ? (byte)'~' : (byte)'*', n);

    /// <summary>Attribute-free push header: RESP3 "&gt;n", RESP2 "*n" (addReplyPushLen).</summary>
    public void PushHeader(long n) => WriteLine(Resp >= 3 ? (byte)'>' : (byte)'*', n);

    /// <summary>Boolean: RESP3 "#t"/"#f", RESP2 ":1"/":0" (addReplyBool).</summary>
    public void Bool(bool b)
    {
        if (Resp >= 3) WriteRaw(b ? "#t\r\n"u8 : "#f\r\n"u8);
        else WriteRaw(b ? ":1\r\n"u8 : ":0\r\n"u8);
    }

    /// <summary>
    /// Double: RESP3 ",&lt;repr&gt;", RESP2 a bulk string, formatted as C's "%.17g" (addReplyDouble in 7.0.15),
    /// with "inf"/"-inf" for infinities.
    /// </summary>
    public void Double(double d)
    {
        string s = FormatDouble17g(d);
        if (Resp >= 3)
        {
            WriteRaw(","u8);
            WriteRaw(Encoding.ASCII.GetBytes(s));
            WriteRaw("\r\n"u8);
        }
        else Bulk(Encoding.ASCII.GetBytes(s));
    }

    /// <summary>Verbatim string: RESP3 "=len\r\ntxt:...", RESP2 a bulk string (addReplyVerbatim).</summary>
    public void Verbatim(string text, string ext = "txt")
    {
        if (Resp >= 3)
        {
            var b = Encoding.UTF8.GetBytes(text);
            WriteLine((byte)'=', b.Length + 4);
            WriteRaw(Encoding.ASCII.GetBytes(ext));
            WriteRaw(":"u8);
            WriteRaw(b);
            WriteRaw("\r\n"u8);
        }
        else Bulk(text);
    }

    /// <summary>Formats a double as C printf "%.17g" does (glibc): shortest of fixed/exponent with 17 significant digits, trailing zeros removed.</summary>
    public static string FormatDouble17g(double d)
    {
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (double.IsNaN(d)) return "nan";
        return FormatG(d, 17);
    }

    /// <summary>C "%.{precision}g" formatting of <paramref name="d"/> (finite values).</summary>
    public static string FormatG(double d, int precision)
    {
        if (d == 0) return (1 / d) < 0 ? "-0" : "0";
        // "E16" gives d.dddddddddddddddde+XXX with precision significant digits.
        string e = d.ToString("E" + (precision - 1), CultureInfo.InvariantCulture);
        int ePos = e.IndexOf('E');
        int exp = int.Parse(e.AsSpan(ePos + 1), CultureInfo.InvariantCulture);
        string mant = e[..ePos];
        bool neg = mant[0] == '-';
        string digits = mant.Replace("-", "").Replace(".", "");
        if (exp < -4 || exp >= precision)
        {
            string m = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
            if (m.Contains('.')) m = m.TrimEnd('0').TrimEnd('.');
            return (neg ? "-" : "") + m + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
        }
        string res;
        if (exp >= 0)
        {
            string intPart = digits[..(exp + 1)];
            string frac = digits[(exp + 1)..];
            res = frac.Length > 0 ? intPart + "." + frac : intPart;
        }
        else
        {
            res = "0." + new string('0', -exp - 1) + digits;
        }
        if (res.Contains('.')) res = res.TrimEnd('0').TrimEnd('.');
        return (neg ? "-" : "") + res;
    }
}
