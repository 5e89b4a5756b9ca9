using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using Adb.Protocol;

namespace Adb.Daemon;

/// <summary>
/// One adb stream on a connection, seen by a service as a duplex <see cref="Stream"/>.
/// Inbound: each WRTE payload is queued; the OKAY that lets the host send the next WRTE is sent at once while at most
/// two chunks wait for the service, else when the service takes one, so at most three chunks (≤ 3 × max payload)
/// are buffered per stream.
/// Outbound: writes go to a pipe; a pump coalesces them into WRTEs of at most the peer's max payload and sends the
/// next one only after the host's OKAY (classic adb flow control, one WRTE in flight per direction).
/// Closing completes the pipe; the pump sends the remaining data and then CLSE.
/// </summary>
internal sealed class AdbSocket : Stream
{
    private readonly AdbConnection _conn;
    private readonly Channel<(byte[] Buffer, int Length)> _inbound = Channel.CreateUnbounded<(byte[], int)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private byte[]? _current;
    private int _currentLength, _currentOffset;
    private readonly Pipe _outbound = new(new PipeOptions(pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));
    private TaskCompletionSource _ack = NewCompleted();
    private TaskCompletionSource? _remoteReady;
    private readonly CancellationTokenSource _closed = new();
    private Task? _pump;
    private int _clseSent;

    public uint LocalId { get; }
    public uint RemoteId { get; private set; }
    public string Service { get; }

    /// <summary>True once the host sent CLSE or the connection dropped.</summary>
    public bool RemoteClosed => _closed.IsCancellationRequested;

    /// <summary>Cancelled when the remote side closes the stream or the connection ends.</summary>
    public CancellationToken Closed => _closed.Token;

    public AdbSocket(AdbConnection conn, uint localId, uint remoteId, string service)
    {
        _conn = conn;
        LocalId = localId;
        RemoteId = remoteId;
        Service = service;
        if (remoteId == 0) _remoteReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static TaskCompletionSource NewCompleted()
    {
        var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        t.SetResult();
        return t;
    }

    /// <summary>Starts the outbound pump (after our OKAY for the host's OPEN was sent, or for a device-opened stream).</summary>
    public void Start() => _pump = Task.Run(PumpAsync);

    /// <summary>For a stream we opened (reverse): waits for the host's OKAY (true) or CLSE (false).</summary>
    public async Task<bool> WaitRemoteReadyAsync(TimeSpan timeout)
    {
        if (_remoteReady is null) return true;
        try { await _remoteReady.Task.WaitAsync(timeout).ConfigureAwait(false); return true; }
        catch (Exception) { return false; }
    }

    // ---- called by the connection's reader loop ----

    private const int MaxQueuedChunks = 2;
    private readonly Lock _ackLock = new();
    private int _queued;
    private bool _ackOwed;

    /// <summary>
    /// Queues a WRTE payload (ownership of the pooled buffer passes to the socket). Returns true when the caller (the
    /// connection's reader loop) should send the OKAY right away: fewer than <see cref="MaxQueuedChunks"/> chunks wait
    /// for the service. Otherwise the OKAY is owed and sent by the service when it takes a chunk, which bounds the
    /// memory per stream and pushes back on the host.
    /// </summary>
    internal bool OnWrite(byte[] buffer, int length)
    {
        lock (_ackLock)
        {
            _inbound.Writer.TryWrite((buffer, length));
            if (++_queued <= MaxQueuedChunks) return true;
            _ackOwed = true;
            return false;
        }
    }

    private bool TakeChunk()
    {
        lock (_ackLock)
        {
            _queued--;
            if (_ackOwed && _queued < MaxQueuedChunks) { _ackOwed = false; return true; }
            return false;
        }
    }

    internal void OnOkay(uint remoteId)
    {
        if (_remoteReady is not null && RemoteId == 0)
        {
            RemoteId = remoteId;
            _remoteReady.TrySetResult();
            return;
        }
        _ack.TrySetResult();
    }

    /// <summary>The host closed the stream (CLSE) or the connection ended: stop everything, no CLSE back.</summary>
    internal void OnRemoteClose()
    {
        Interlocked.Exchange(ref _clseSent, 1);
        _inbound.Writer.TryComplete();
        _ack.TrySetException(new IOException("stream closed by peer"));
        _remoteReady?.TrySetException(new IOException("stream refused by peer"));
        try { _closed.Cancel(); } catch (ObjectDisposedException) { }
        _outbound.Reader.CancelPendingRead();
    }

    // ---- Stream: reading ----

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length == 0) return 0;
        if (_current is null)
        {
            (byte[] Buffer, int Length) chunk;
            try
            {
                if (!_inbound.Reader.TryRead(out chunk))
                {
                    if (!await _inbound.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false)) return 0;
                    if (!_inbound.Reader.TryRead(out chunk)) return 0;
                }
            }
            catch (ChannelClosedException) { return 0; }
            _current = chunk.Buffer;
            _currentLength = chunk.Length;
            _currentOffset = 0;
            if (TakeChunk() && !RemoteClosed) await _conn.SendAsync(AdbCommand.OKAY, LocalId, RemoteId, default).ConfigureAwait(false);
        }
        int n = Math.Min(buffer.Length, _currentLength - _currentOffset);
        _current.AsSpan(_currentOffset, n).CopyTo(buffer.Span);
        _currentOffset += n;
        if (_currentOffset == _currentLength)
        {
            ArrayPool<byte>.Shared.Return(_current);
            _current = null;
        }
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    // ---- Stream: writing ----

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (RemoteClosed) throw new IOException("stream closed by peer");
        var result = await _outbound.Writer.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted || result.IsCanceled) throw new IOException("stream closed");
    }

    /// <summary>Zero-copy output: a buffer of at least <paramref name="sizeHint"/> bytes in the outbound pipe.
    /// Fill it, then call <see cref="CommitAsync"/> with the byte count.</summary>
    public Memory<byte> GetOutputMemory(int sizeHint)
    {
        if (RemoteClosed) throw new IOException("stream closed by peer");
        return _outbound.Writer.GetMemory(sizeHint);
    }

    /// <summary>Commits <paramref name="count"/> bytes written into <see cref="GetOutputMemory"/> and applies back-pressure.</summary>
    public async ValueTask CommitAsync(int count)
    {
        _outbound.Writer.Advance(count);
        var result = await _outbound.Writer.FlushAsync().ConfigureAwait(false);
        if (result.IsCompleted || result.IsCanceled || RemoteClosed) throw new IOException("stream closed");
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, default).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override void Flush() { }

    private async Task PumpAsync()
    {
        var reader = _outbound.Reader;
        byte[] chunk = ArrayPool<byte>.Shared.Rent(_conn.MaxPayload);
        try
        {
            while (true)
            {
                // Wait for the host's OKAY first, then take what accumulated meanwhile (up to max payload): WRTEs
                // are as large as possible (AOSP coalesces the same way).
                try { await _ack.Task.ConfigureAwait(false); }
                catch (Exception) { break; }
                if (RemoteClosed) break;
                ReadResult rr;
                try { rr = await reader.ReadAsync().ConfigureAwait(false); }
                catch (Exception) { break; }
                if (RemoteClosed) break;
                var buf = rr.Buffer;
                if (buf.IsEmpty)
                {
                    reader.AdvanceTo(buf.End);
                    if (rr.IsCompleted || rr.IsCanceled) break;
                    continue;
                }
                int n = (int)Math.Min(buf.Length, _conn.MaxPayload);
                buf.Slice(0, n).CopyTo(chunk);
                // Consume only this chunk: the writer (e.g. RECV reading the file) resumes at once, so the next WRTE
                // is full-size too. Advancing only after the whole buffer left a small tail (the bytes past the last
                // whole MiB when the writer had paused) that went out as its own round trip.
                reader.AdvanceTo(buf.GetPosition(n));
                // Synchronous continuation: the host's OKAY (handled on the connection's reader loop) sends the
                // next WRTE right there, without a thread-pool hop per MiB.
                _ack = new TaskCompletionSource();
                if (RemoteClosed) break;
                await _conn.SendAsync(AdbCommand.WRTE, LocalId, RemoteId, chunk.AsMemory(0, n)).ConfigureAwait(false);
            }
        }
        catch (Exception) { /* connection gone */ }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
            await reader.CompleteAsync().ConfigureAwait(false);
            await SendCloseAsync().ConfigureAwait(false);
        }
    }

    private async Task SendCloseAsync()
    {
        if (Interlocked.Exchange(ref _clseSent, 1) != 0) return;
        try { await _conn.SendAsync(AdbCommand.CLSE, LocalId, RemoteId, default).ConfigureAwait(false); }
        catch (Exception) { }
        _conn.RemoveSocket(this);
    }

    /// <summary>Finishes output: remaining data is sent, then CLSE. Waits for the pump.</summary>
    public async Task CloseAsync()
    {
        await _outbound.Writer.CompleteAsync().ConfigureAwait(false);
        if (_pump is not null) await _pump.ConfigureAwait(false);
        else await SendCloseAsync().ConfigureAwait(false);
        _inbound.Writer.TryComplete();
        while (_inbound.Reader.TryRead(out var c)) ArrayPool<byte>.Shared.Return(c.Buffer);
        _conn.RemoveSocket(this);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _ = CloseAsync();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
