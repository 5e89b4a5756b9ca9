using System.Buffers;
using System.Net.Sockets;
using System.Text;

namespace Adb.Cli;

/// <summary>
/// The host "smart socket" protocol spoken between the adb client and the adb server on TCP 5037
/// (AOSP <c>adb/SERVICES.TXT</c>, <c>adb_io.cpp</c> SendProtocolString/SendOkay/SendFail; reference §1.1).
/// A request is 4 hex digits giving the payload length (1..1 MiB) then the payload, without NUL.
/// A reply is <c>OKAY</c>, or <c>FAIL</c> + hex4 + message; many host queries answer <c>OKAY</c> + hex4 + payload.
/// </summary>
internal static class SmartSocket
{
    /// <summary>Largest request payload the server accepts, in bytes (AOSP MAX_PAYLOAD, 1 MiB).</summary>
    public const int MaxPayload = 1 << 20;

    /// <summary>Parses 4 hex digits (upper or lower case). Returns false on any non-hex byte.</summary>
    public static bool TryParseHex4(ReadOnlySpan<byte> hex4, out int value)
    {
        value = 0;
        if (hex4.Length != 4) return false;
        foreach (byte b in hex4)
        {
            int d = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (d < 0) return false;
            value = value * 16 + d;
        }
        return true;
    }

    /// <summary>Encodes <paramref name="payload"/> as hex4 (lower case, as AOSP) + UTF-8 bytes.</summary>
    public static byte[] EncodeProtocolString(string payload)
    {
        byte[] body = Encoding.UTF8.GetBytes(payload);
        int n = Math.Min(body.Length, 0xffff);
        byte[] buf = new byte[4 + n];
        Encoding.ASCII.GetBytes(n.ToString("x4"), buf);
        body.AsSpan(0, n).CopyTo(buf.AsSpan(4));
        return buf;
    }

    /// <summary>Reads one request (hex4 length + payload). Returns null at EOF or on an invalid length
    /// (0000, non-hex, over 1 MiB), in which case the caller closes the socket without reply, as AOSP does.</summary>
    public static async Task<string?> ReadRequestAsync(Stream s, CancellationToken ct = default)
    {
        byte[] hdr = new byte[4];
        if (!await TryReadExactAsync(s, hdr, ct)) return null;
        if (!TryParseHex4(hdr, out int len) || len < 1 || len > MaxPayload) return null;
        byte[] body = ArrayPool<byte>.Shared.Rent(len);
        try
        {
            if (!await TryReadExactAsync(s, body.AsMemory(0, len), ct)) return null;
            return Encoding.UTF8.GetString(body, 0, len);
        }
        finally { ArrayPool<byte>.Shared.Return(body); }
    }

    /// <summary>Reads exactly <paramref name="buf"/>.Length bytes; false on EOF before the first byte or mid-way.</summary>
    public static async Task<bool> TryReadExactAsync(Stream s, Memory<byte> buf, CancellationToken ct = default)
    {
        int got = 0;
        while (got < buf.Length)
        {
            int n;
            try { n = await s.ReadAsync(buf[got..], ct); }
            catch (IOException) { return false; }
            catch (SocketException) { return false; }
            catch (ObjectDisposedException) { return false; }
            if (n == 0) return false;
            got += n;
        }
        return true;
    }

    /// <summary>Writes <c>OKAY</c>.</summary>
    public static ValueTask WriteOkayAsync(Stream s, CancellationToken ct = default) => s.WriteAsync("OKAY"u8.ToArray(), ct);

    /// <summary>Writes <c>OKAY</c> + hex4 + payload in one write.</summary>
    public static ValueTask WriteOkayAsync(Stream s, string payload, CancellationToken ct = default)
    {
        byte[] p = EncodeProtocolString(payload);
        byte[] buf = new byte[4 + p.Length];
        "OKAY"u8.CopyTo(buf);
        p.CopyTo(buf, 4);
        return s.WriteAsync(buf, ct);
    }

    /// <summary>Writes <c>FAIL</c> + hex4 + message.</summary>
    public static ValueTask WriteFailAsync(Stream s, string message, CancellationToken ct = default)
    {
        byte[] p = EncodeProtocolString(message);
        byte[] buf = new byte[4 + p.Length];
        "FAIL"u8.CopyTo(buf);
        p.CopyTo(buf, 4);
        return s.WriteAsync(buf, ct);
    }

    /// <summary>Writes hex4 + payload (SendProtocolString).</summary>
    public static ValueTask WriteProtocolStringAsync(Stream s, string payload, CancellationToken ct = default)
        => s.WriteAsync(EncodeProtocolString(payload), ct);

    /// <summary>Client side: sends a request (hex4 + payload).</summary>
    public static ValueTask SendRequestAsync(Stream s, string request, CancellationToken ct = default)
        => s.WriteAsync(EncodeProtocolString(request), ct);

    /// <summary>Client side: reads a 4-byte status. Returns null when it is OKAY, the FAIL message otherwise.</summary>
    /// <exception cref="AdbException">on EOF or an unknown status word.</exception>
    public static async Task<string?> ReadStatusAsync(Stream s, CancellationToken ct = default)
    {
        byte[] st = new byte[4];
        if (!await TryReadExactAsync(s, st, ct)) throw new AdbException("protocol fault (couldn't read status): Success");
        if (st.AsSpan().SequenceEqual("OKAY"u8)) return null;
        if (st.AsSpan().SequenceEqual("FAIL"u8)) return await ReadProtocolStringAsync(s, ct);
        throw new AdbException($"protocol fault (status {Printable(st)}?!)");
    }

    /// <summary>Reads hex4 + payload.</summary>
    /// <exception cref="AdbException">on EOF or a bad length.</exception>
    public static async Task<string> ReadProtocolStringAsync(Stream s, CancellationToken ct = default)
    {
        byte[] hdr = new byte[4];
        if (!await TryReadExactAsync(s, hdr, ct)) throw new AdbException("protocol fault (couldn't read status length): Success");
        if (!TryParseHex4(hdr, out int len)) throw new AdbException("protocol fault (couldn't read status length)");
        byte[] body = new byte[len];
        if (!await TryReadExactAsync(s, body, ct)) throw new AdbException("protocol fault (couldn't read status message): Success");
        return Encoding.UTF8.GetString(body);
    }

    // ---- blocking client-side variants: a socket that never saw an async call stays in blocking mode on Unix,
    // which avoids .NET's sync-over-async emulation (futex + epoll per call) on the client's hot loops.

    /// <summary>Blocking <see cref="TryReadExactAsync"/>.</summary>
    public static bool TryReadExact(Stream s, Span<byte> buf)
    {
        int got = 0;
        while (got < buf.Length)
        {
            int n;
            try { n = s.Read(buf[got..]); }
            catch (IOException) { return false; }
            catch (SocketException) { return false; }
            catch (ObjectDisposedException) { return false; }
            if (n == 0) return false;
            got += n;
        }
        return true;
    }

    /// <summary>Blocking <see cref="SendRequestAsync"/>.</summary>
    public static void SendRequest(Stream s, string request) => s.Write(EncodeProtocolString(request));

    /// <summary>Blocking <see cref="ReadStatusAsync"/>.</summary>
    /// <exception cref="AdbException">on EOF or an unknown status word.</exception>
    public static string? ReadStatus(Stream s)
    {
        Span<byte> st = stackalloc byte[4];
        if (!TryReadExact(s, st)) throw new AdbException("protocol fault (couldn't read status): Success");
        if (st.SequenceEqual("OKAY"u8)) return null;
        if (st.SequenceEqual("FAIL"u8)) return ReadProtocolString(s);
        throw new AdbException($"protocol fault (status {Printable(st.ToArray())}?!)");
    }

    /// <summary>Blocking <see cref="ReadProtocolStringAsync"/>.</summary>
    /// <exception cref="AdbException">on EOF or a bad length.</exception>
    public static string ReadProtocolString(Stream s)
    {
        Span<byte> hdr = stackalloc byte[4];
        if (!TryReadExact(s, hdr)) throw new AdbException("protocol fault (couldn't read status length): Success");
        if (!TryParseHex4(hdr, out int len)) throw new AdbException("protocol fault (couldn't read status length)");
        byte[] body = new byte[len];
        if (!TryReadExact(s, body)) throw new AdbException("protocol fault (couldn't read status message): Success");
        return Encoding.UTF8.GetString(body);
    }

    private static string Printable(byte[] b) => new(b.Select(x => x is >= 32 and < 127 ? (char)x : '?').ToArray());
}

/// <summary>An adb error whose message is printed as <c>adb: error: …</c> / <c>error: …</c> by the CLI.</summary>
internal sealed class AdbException(string message) : Exception(message);
