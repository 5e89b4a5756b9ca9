using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kv.Tests.Infrastructure;

/// <summary>Thrown when the server closed the connection before a complete reply arrived.</summary>
public sealed class RespConnectionClosedException(string message, byte[] partial) : IOException(message)
{
    /// <summary>Bytes received after the last complete reply (an incomplete frame), possibly empty.</summary>
    public byte[] Partial { get; } = partial;
}

/// <summary>
/// A raw RESP client for tests: sends commands as multibulk (or any raw bytes) and reads exactly one reply as
/// its raw bytes, using <see cref="RespFormat.FrameLength"/> (RESP2 and RESP3) to know where the reply ends.
/// Every read has a timeout (<see cref="Timeout"/>, default 10 s) and throws <see cref="TimeoutException"/>
/// with the bytes received so far. A read that times out leaves the connection usable (the pending receive is
/// kept and reused by the next read), so "no reply within N ms" can be checked.
/// Not thread-safe: one caller at a time.
/// </summary>
public sealed class RespClient : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buf = new byte[64 * 1024];
    private int _start, _end;          // unconsumed received bytes are _buf[_start.._end)
    private readonly byte[] _rx = new byte[64 * 1024];
    private Task<int>? _pending;       // outstanding receive into _rx
    private bool _eof;

    private RespClient(Socket socket) => _socket = socket;

    /// <summary>Default timeout for reads (and connects).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The underlying socket.</summary>
    public Socket Socket => _socket;

    /// <summary>True once the server closed the connection (seen by a read).</summary>
    public bool RemoteClosed => _eof;

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<RespClient> ConnectAsync(int port, TimeSpan? timeout = null)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            s.Dispose();
            throw new TimeoutException($"connect to 127.0.0.1:{port} timed out");
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return new RespClient(s) { Timeout = timeout ?? TimeSpan.FromSeconds(10) };
    }

    /// <summary>Sends one command as a multibulk; arguments are UTF-8 encoded.</summary>
    public Task SendAsync(params string[] args)
        => SendRawAsync(RespFormat.MultiBulk(args.Select(a => Encoding.UTF8.GetBytes(a)).ToArray()));

    /// <summary>Sends one command as a multibulk of binary arguments.</summary>
    public Task SendAsync(IReadOnlyList<byte[]> args) => SendRawAsync(RespFormat.MultiBulk(args));

    /// <summary>Sends raw bytes (any protocol, possibly malformed or partial).</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        int sent = 0;
        while (sent < bytes.Length)
            sent += await _socket.SendAsync(bytes[sent..], SocketFlags.None).ConfigureAwait(false);
    }

    /// <summary>Sends raw text encoded as Latin-1 (each char one byte), e.g. inline commands.</summary>
    public Task SendRawAsync(string text) => SendRawAsync(Encoding.Latin1.GetBytes(text));

    /// <summary>Sends a command and reads its reply.</summary>
    public async Task<byte[]> CommandAsync(params string[] args)
    {
        await SendAsync(args).ConfigureAwait(false);
        return await ReadReplyAsync().ConfigureAwait(false);
    }

    /// <summary>Sends a binary command and reads its reply.</summary>
    public async Task<byte[]> CommandAsync(IReadOnlyList<byte[]> args)
    {
        await SendAsync(args).ConfigureAwait(false);
        return await ReadReplyAsync().ConfigureAwait(false);
    }

    /// <summary>Sends a command and returns its reply rendered with <see cref="RespFormat.Escape"/>.</summary>
    public async Task<string> CommandEscapedAsync(params string[] args) => RespFormat.Escape(await CommandAsync(args).ConfigureAwait(false));

    /// <summary>
    /// Reads exactly one complete reply (raw bytes including the final CRLF). Throws <see cref="TimeoutException"/>
    /// on timeout and <see cref="RespConnectionClosedException"/> if the server closes first.
    /// </summary>
    public async Task<byte[]> ReadReplyAsync(TimeSpan? timeout = null)
    {
        var r = await TryReadReplyAsync(timeout ?? Timeout).ConfigureAwait(false);
        return r ?? throw new TimeoutException(
            $"no complete reply within {(timeout ?? Timeout).TotalMilliseconds} ms; received so far: \"{RespFormat.Escape(_buf.AsSpan(_start, _end - _start))}\"");
    }

    /// <summary>Reads one reply, or returns null when none is complete within <paramref name="timeout"/>.</summary>
    public async Task<byte[]?> TryReadReplyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            int len = _end > _start ? RespFormat.FrameLength(_buf.AsSpan(_start, _end - _start)) : -1;
            if (len >= 0)
            {
                var reply = _buf.AsSpan(_start, len).ToArray();
                _start += len;
                return reply;
            }
            if (_eof)
                throw new RespConnectionClosedException(
                    $"connection closed by server; unconsumed bytes: \"{RespFormat.Escape(_buf.AsSpan(_start, _end - _start))}\"",
                    _buf.AsSpan(_start, _end - _start).ToArray());
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await FillAsync(left).ConfigureAwait(false)) return null;
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the server to close the connection, discarding anything it sends
    /// meanwhile; returns true if it closed (EOF or reset). The discarded bytes are returned in
    /// <paramref name="received"/>.
    /// </summary>
    public async Task<(bool Closed, byte[] Received)> WaitClosedAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_eof)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await FillAsync(left).ConfigureAwait(false)) break;
        }
        var rest = _buf.AsSpan(_start, _end - _start).ToArray();
        _start = _end = 0;
        return (_eof, rest);
    }

    /// <summary>Returns and clears whatever has been received but not consumed as a reply.</summary>
    public byte[] TakeBuffered()
    {
        var rest = _buf.AsSpan(_start, _end - _start).ToArray();
        _start = _end = 0;
        return rest;
    }

    /// <summary>Receives more bytes; false on timeout (the receive stays pending for the next call).</summary>
    private async Task<bool> FillAsync(TimeSpan timeout)
    {
        if (_eof) return true;
        _pending ??= ReceiveAsync();
        if (!_pending.IsCompleted)
        {
            var done = await Task.WhenAny(_pending, Task.Delay(timeout)).ConfigureAwait(false);
            if (done != _pending) return false;
        }
        int n = await _pending.ConfigureAwait(false);
        _pending = null;
        if (n <= 0)
        {
            _eof = true;
            return true;
        }
        if (_end + n > _buf.Length)
        {
            int used = _end - _start;
            var nb = used + n > _buf.Length ? new byte[Math.Max(_buf.Length * 2, used + n)] : _buf;
            Buffer.BlockCopy(_buf, _start, nb, 0, used);
            _buf = nb;
            _start = 0;
            _end = used;
        }
        Buffer.BlockCopy(_rx, 0, _buf, _end, n);
        _end += n;
        return true;
    }

    private async Task<int> ReceiveAsync()
    {
        try
        {
            return await _socket.ReceiveAsync(_rx, SocketFlags.None).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return 0; // reset counts as closed
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    /// <summary>Half-closes the sending side (the server sees EOF after what was sent).</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Closes the connection.</summary>
    public void Dispose()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _socket.Dispose();
    }
}
