using System.Threading.Channels;

namespace Kv.Replication;

/// <summary>
/// The RDB bytes of one replication snapshot, readable by several replica senders while the snapshot is still being
/// written (diskless/EOF framing streams them as they are produced; disk framing waits for the total length).
/// Written by the snapshot thread; it never takes the server lock. Readers poll with <see cref="TryGet"/>.
/// </summary>
internal sealed class SnapshotFeed : Stream
{
    private readonly object _sync = new();
    private readonly List<byte[]> _chunks = [];
    private long _length;
    private bool _complete;
    private Exception? _error;
    private TaskCompletionSource _newData = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The error the snapshot failed with, if any.</summary>
    public Exception? Error { get { lock (_sync) return _error; } }

    /// <summary>Marks the end of the snapshot (successful when <paramref name="error"/> is null).</summary>
    public void Complete(Exception? error)
    {
        TaskCompletionSource t;
        lock (_sync)
        {
            _complete = true;
            _error = error;
            t = _newData;
        }
        t.TrySetResult();
    }

    /// <summary>
    /// Chunk <paramref name="index"/> when written; otherwise Done (all chunks consumed and complete) or a task that
    /// completes when more data or the end arrives.
    /// </summary>
    public (ReadOnlyMemory<byte> Chunk, bool Done, Task? Wait) TryGet(int index)
    {
        lock (_sync)
        {
            if (index < _chunks.Count) return (_chunks[index], false, null);
            if (_complete) return (ReadOnlyMemory<byte>.Empty, true, null);
            return (ReadOnlyMemory<byte>.Empty, false, _newData.Task);
        }
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length == 0) return;
        var copy = buffer.ToArray();
        TaskCompletionSource t;
        lock (_sync)
        {
            _chunks.Add(copy);
            _length += copy.Length;
            t = _newData;
            _newData = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        t.TrySetResult();
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public override bool CanRead => false;
    /// <inheritdoc/>
    public override bool CanSeek => false;
    /// <inheritdoc/>
    public override bool CanWrite => true;
    /// <inheritdoc/>
    public override long Length { get { lock (_sync) return _length; } }
    /// <inheritdoc/>
    public override long Position { get => Length; set => throw new NotSupportedException(); }
    /// <inheritdoc/>
    public override void Flush() { }
    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// A read-only stream fed with chunks by the replica's socket reader, so the RDB loader parses the payload while
/// it is still arriving. <see cref="Read(byte[], int, int)"/> blocks (run the loader on its own thread). The
/// socket reader receives straight into buffers from <see cref="Rent"/> and hands them over with
/// <see cref="AddOwned"/>; the loader reads them in place and gives them back for reuse, so the payload is copied
/// once from the socket and once into the loader's buffer, and a transfer allocates only the buffers in flight.
/// </summary>
internal sealed class ChunkPipeStream : Stream
{
    private readonly Channel<(byte[] Buffer, int Offset, int Count, bool Pooled)> _ch =
        Channel.CreateUnbounded<(byte[], int, int, bool)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private byte[]? _cur;
    private int _curPos, _curEnd;
    private bool _curPooled;
    private readonly System.Collections.Concurrent.ConcurrentQueue<byte[]> _free = new();

    /// <summary>Size of the buffers given by <see cref="Rent"/>.</summary>
    public const int ChunkSize = 256 * 1024;

    /// <summary>A buffer of <see cref="ChunkSize"/> bytes, reused once the loader consumed it.</summary>
    public byte[] Rent() => _free.TryDequeue(out var b) ? b : new byte[ChunkSize];

    /// <summary>Adds bytes (copied).</summary>
    public void Add(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0) _ch.Writer.TryWrite((data.ToArray(), 0, data.Length, false));
    }

    /// <summary>
    /// Adds <paramref name="count"/> bytes of <paramref name="buffer"/> from <paramref name="offset"/> without copying;
    /// <paramref name="buffer"/> (from <see cref="Rent"/>) belongs to the stream from now on.
    /// </summary>
    public void AddOwned(byte[] buffer, int offset, int count)
    {
        if (count <= 0 || !_ch.Writer.TryWrite((buffer, offset, count, true))) _free.Enqueue(buffer);
    }

    /// <summary>Ends the stream; with an error the reader sees an <see cref="IOException"/>.</summary>
    public void Finish(Exception? error = null) => _ch.Writer.TryComplete(error);

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        while (_cur is null)
        {
            if (_ch.Reader.TryRead(out var next))
            {
                (_cur, _curPos, _curEnd, _curPooled) = (next.Buffer, next.Offset, next.Offset + next.Count, next.Pooled);
                break;
            }
            bool more;
            try { more = _ch.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult(); }
            catch (Exception e) when (e is not IOException) { throw new IOException("transfer aborted: " + e.Message, e); }
            if (!more) return 0;
        }
        int n = Math.Min(buffer.Length, _curEnd - _curPos);
        _cur.AsSpan(_curPos, n).CopyTo(buffer);
        _curPos += n;
        if (_curPos == _curEnd)
        {
            if (_curPooled) _free.Enqueue(_cur);
            _cur = null;
        }
        return n;
    }

    /// <inheritdoc/>
    public override bool CanRead => true;
    /// <inheritdoc/>
    public override bool CanSeek => false;
    /// <inheritdoc/>
    public override bool CanWrite => false;
    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc/>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    /// <inheritdoc/>
    public override void Flush() { }
    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
