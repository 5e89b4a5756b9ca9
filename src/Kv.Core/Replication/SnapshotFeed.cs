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
/// it is still arriving. <see cref="Read(byte[], int, int)"/> blocks (run the loader on its own thread).
/// </summary>
internal sealed class ChunkPipeStream : Stream
{
    private readonly Channel<ReadOnlyMemory<byte>> _ch = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private ReadOnlyMemory<byte> _cur;

    /// <summary>Adds bytes (copied).</summary>
    public void Add(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0) _ch.Writer.TryWrite(data.ToArray());
    }

    /// <summary>Ends the stream; with an error the reader sees an <see cref="IOException"/>.</summary>
    public void Finish(Exception? error = null) => _ch.Writer.TryComplete(error);

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        while (_cur.IsEmpty)
        {
            if (_ch.Reader.TryRead(out var next)) { _cur = next; break; }
            bool more;
            try { more = _ch.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult(); }
            catch (Exception e) when (e is not IOException) { throw new IOException("transfer aborted: " + e.Message, e); }
            if (!more) return 0;
        }
        int n = Math.Min(buffer.Length, _cur.Length);
        _cur.Span[..n].CopyTo(buffer);
        _cur = _cur[n..];
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
