namespace Kv.Replication;

/// <summary>
/// One block of the shared replication buffer (redis 7.0 replBufBlock): <see cref="ReplOffset"/> is the global
/// replication offset of <c>Buf[0]</c>, <see cref="Used"/> bytes are valid, <see cref="RefCount"/> counts the
/// consumers (backlog, replicas) whose current position is in this block. Bytes below <see cref="Used"/> never
/// change, so a sender may write them to a socket outside the lock while it holds a reference.
/// </summary>
public sealed class ReplBlock
{
    internal ReplBlock(long id, long replOffset, byte[] buf)
    {
        Id = id;
        ReplOffset = replOffset;
        Buf = buf;
    }

    /// <summary>Monotonic block id (used by the output-buffer-limit maths).</summary>
    public long Id { get; }

    /// <summary>Global replication offset of the first byte of the block.</summary>
    public long ReplOffset { get; }

    /// <summary>The block's storage; its length is the block size.</summary>
    public byte[] Buf { get; }

    /// <summary>Allocated bytes.</summary>
    public int Size => Buf.Length;

    /// <summary>Bytes written.</summary>
    public int Used { get; internal set; }

    /// <summary>Consumers currently positioned in this block.</summary>
    public int RefCount { get; internal set; }

    /// <summary>The next block (null at the tail).</summary>
    public ReplBlock? Next { get; internal set; }
}

/// <summary>
/// A consumer's read position in the shared buffer (a replica's ref_repl_buf_node + ref_block_pos). A cursor
/// with no block is either detached or waiting for the next byte written (see <see cref="ReplBuffer.AttachAtEnd"/>).
/// </summary>
public sealed class ReplCursor
{
    /// <summary>Current block (holds one reference) or null.</summary>
    public ReplBlock? Block { get; internal set; }

    /// <summary>Bytes of <see cref="Block"/> already consumed.</summary>
    public int Pos { get; internal set; }

    /// <summary>True while the cursor waits to be pointed at the next byte fed.</summary>
    public bool Pending { get; internal set; }
}

/// <summary>
/// The single shared replication buffer of redis 7.0 (replication.c, PR #9166): a linked list of blocks holding
/// the whole command stream once; the backlog and every replica are consumers holding a position. Blocks are
/// freed only from the head, when the backlog alone holds the head and dropping it keeps
/// <see cref="Histlen"/> above <see cref="BacklogSize"/>. Block sizes are at least 16 KiB and at most
/// max(backlog/16, 16 KiB) (7.0.10+). Every 64th block is indexed for PSYNC offset lookups; trimming is bounded
/// to 64 blocks per call. Not thread-safe: call under the server's execution lock.
/// </summary>
public sealed class ReplBuffer
{
    /// <summary>Minimum block size (PROTO_REPLY_CHUNK_BYTES).</summary>
    public const int MinBlockSize = 16 * 1024;
    /// <summary>Minimum backlog size (CONFIG_REPL_BACKLOG_MIN_SIZE).</summary>
    public const long MinBacklogSize = 16 * 1024;
    /// <summary>Blocks between index entries (REPL_BACKLOG_INDEX_PER_BLOCKS).</summary>
    public const int IndexEvery = 64;
    /// <summary>Blocks trimmed at most per call (REPL_BACKLOG_TRIM_BLOCKS_PER_CALL).</summary>
    public const int TrimPerCall = 64;
    /// <summary>Accounted per-block overhead in bytes (block header + list node).</summary>
    public const int BlockOverhead = 64;

    private readonly List<ReplBlock> _index = [];
    private readonly List<ReplCursor> _pending = [];
    private int _unindexed;
    private long _nextId;
    private long _backlogSize = 1024 * 1024;

    /// <summary>First block (the backlog's block) or null.</summary>
    public ReplBlock? Head { get; private set; }

    /// <summary>Last block or null.</summary>
    public ReplBlock? Tail { get; private set; }

    /// <summary>Blocks in the list.</summary>
    public int BlockCount { get; private set; }

    /// <summary>Bytes allocated for blocks plus per-block overhead (mem_total_replication_buffers).</summary>
    public long Memory { get; private set; }

    /// <summary>True when a backlog exists (repl_backlog != NULL); nothing is buffered otherwise.</summary>
    public bool HasBacklog { get; private set; }

    /// <summary>master_repl_offset: global offset of the last byte fed.</summary>
    public long MasterReplOffset { get; private set; }

    /// <summary>repl_backlog_histlen: bytes of history held.</summary>
    public long Histlen { get; private set; }

    /// <summary>repl_backlog_first_byte_offset (backlog->offset): offset of the first byte held.</summary>
    public long FirstByteOffset => HasBacklog ? MasterReplOffset - Histlen + 1 : 0;

    /// <summary>Entries in the offset index (every 64th block).</summary>
    public int IndexCount => _index.Count;

    /// <summary>repl-backlog-size in bytes (values below 16 KiB are raised to 16 KiB); shrinking trims.</summary>
    public long BacklogSize
    {
        get => _backlogSize;
        set
        {
            _backlogSize = Math.Max(MinBacklogSize, value);
            Trim(TrimPerCall);
        }
    }

    /// <summary>Largest size of a new block: max(backlog/16, 16 KiB).</summary>
    public int MaxBlockSize => (int)Math.Min(int.MaxValue / 2, Math.Max(_backlogSize / 16, MinBlockSize));

    /// <summary>
    /// Creates the backlog (createReplicationBacklog) with <see cref="MasterReplOffset"/> = <paramref name="offset"/>;
    /// the first byte fed will have offset+1. Any previous content must have been freed.
    /// </summary>
    /// <exception cref="InvalidOperationException">A backlog already exists.</exception>
    public void CreateBacklog(long offset)
    {
        if (HasBacklog) throw new InvalidOperationException("backlog already exists");
        HasBacklog = true;
        MasterReplOffset = offset;
        Histlen = 0;
    }

    /// <summary>Sets master_repl_offset while no backlog exists (a replica adopting its master's offset).</summary>
    public void SetOffsetWithoutBacklog(long offset)
    {
        if (HasBacklog) throw new InvalidOperationException("backlog exists");
        MasterReplOffset = offset;
    }

    /// <summary>
    /// Frees the backlog and every block (freeReplicationBacklog). Every cursor must have been released first.
    /// </summary>
    /// <exception cref="InvalidOperationException">A consumer still holds a block.</exception>
    public void FreeBacklog()
    {
        for (var b = Head; b is not null; b = b.Next)
            if (b.RefCount > (b == Head ? 1 : 0)) throw new InvalidOperationException("replication buffer still referenced");
        Head = Tail = null;
        BlockCount = 0;
        Memory = 0;
        _spare.Clear();
        Histlen = 0;
        HasBacklog = false;
        _index.Clear();
        _unindexed = 0;
        foreach (var c in _pending) c.Pending = false;
        _pending.Clear();
    }

    /// <summary>
    /// Appends stream bytes (feedReplicationBuffer): fills the tail, then adds blocks. Pending cursors are pointed at
    /// the first byte written. Returns true when at least one block was added (callers then check output limits).
    /// Does nothing without a backlog.
    /// </summary>
    public bool Feed(ReadOnlySpan<byte> data)
    {
        if (!HasBacklog || data.Length == 0) return false;
        ReplBlock? first = null;
        int firstPos = 0;
        bool added = false;
        bool hadHead = Head is not null;
        var tail = Tail;
        if (tail is not null && tail.Used < tail.Size)
        {
            int n = Math.Min(tail.Size - tail.Used, data.Length);
            data[..n].CopyTo(tail.Buf.AsSpan(tail.Used));
            first = tail;
            firstPos = tail.Used;
            tail.Used += n;
            MasterReplOffset += n;
            Histlen += n;
            data = data[n..];
        }
        while (data.Length > 0)
        {
            int size = Math.Clamp(data.Length, MinBlockSize, Math.Max(MinBlockSize, MaxBlockSize));
            var b = new ReplBlock(_nextId++, MasterReplOffset + 1, TakeSpare(size) ?? new byte[size]);
            int n = Math.Min(size, data.Length);
            data[..n].CopyTo(b.Buf);
            b.Used = n;
            MasterReplOffset += n;
            Histlen += n;
            data = data[n..];
            if (Tail is null) Head = Tail = b;
            else { Tail.Next = b; Tail = b; }
            BlockCount++;
            Memory += size + BlockOverhead;
            first ??= b;
            added = true;
            if (++_unindexed >= IndexEvery)
            {
                _index.Add(b);
                _unindexed = 0;
            }
        }
        // The backlog's reference sits on the head block (taken when the first block appears).
        if (!hadHead) Head!.RefCount++;
        if (_pending.Count > 0)
        {
            foreach (var c in _pending)
            {
                c.Pending = false;
                c.Block = first;
                c.Pos = firstPos;
                first!.RefCount++;
            }
            _pending.Clear();
        }
        if (added) Trim(TrimPerCall);
        return added;
    }

    // Storage of trimmed blocks, reused for new blocks of the same size (at most MaxSpare arrays, 2 x 64 KiB with the
    // default backlog). In steady state the stream then allocates nothing: a new 64 KiB array per 64 KiB of stream
    // lived as long as the backlog window and was copied up through the GC generations. Measured under
    // redis-benchmark SET -P 16 with one replica: allocation per SET 93 -> 49 bytes on both master and replica,
    // half the collections, total GC pause 20-40% lower (docs/BENCHMARKS.md).
    private readonly Stack<byte[]> _spare = new();
    private const int MaxSpare = 2;

    private byte[]? TakeSpare(int size)
    {
        while (_spare.TryPop(out var buf))
            if (buf.Length == size) return buf; // a spare of another size (backlog resized) is dropped
        return null;
    }

    /// <summary>
    /// Trims whole blocks from the head (incrementalTrimReplicationBacklog), at most <paramref name="maxBlocks"/>:
    /// only while the backlog alone holds the head, more than one block exists, and histlen stays above the
    /// backlog size without the head.
    /// </summary>
    public void Trim(int maxBlocks = TrimPerCall)
    {
        while (maxBlocks-- > 0 && Head is { } h && h.Next is { } next && Histlen > _backlogSize
               && h.RefCount == 1 && Histlen - h.Used > _backlogSize)
        {
            h.RefCount--;
            next.RefCount++;
            Head = next;
            h.Next = null;
            Histlen -= h.Used;
            BlockCount--;
            Memory -= h.Size + BlockOverhead;
            // Only the backlog held it (RefCount 1): no sender is writing it to a socket, so its storage can be reused.
            if (_spare.Count < MaxSpare) _spare.Push(h.Buf);
            if (_index.Count > 0 && _index[0] == h) _index.RemoveAt(0);
        }
    }

    /// <summary>True when a PSYNC for <paramref name="offset"/> (the first byte the replica lacks) can be served.</summary>
    public bool CanServe(long offset) => HasBacklog && offset >= FirstByteOffset && offset <= FirstByteOffset + Histlen;

    /// <summary>
    /// Points <paramref name="cursor"/> at <paramref name="offset"/> (addReplyReplicationBacklog): the replica will
    /// receive every byte from that offset on. <paramref name="offset"/> = master_repl_offset+1 means "only new bytes".
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The offset is outside the backlog window.</exception>
    public void AttachAt(ReplCursor cursor, long offset)
    {
        if (!CanServe(offset)) throw new ArgumentOutOfRangeException(nameof(offset), "offset outside the backlog window");
        Detach(cursor, trim: false);
        if (Head is null)
        {
            cursor.Pending = true;
            _pending.Add(cursor);
            return;
        }
        // Greatest indexed block whose offset <= the wanted offset, else the head.
        ReplBlock b = Head;
        int lo = 0, hi = _index.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            if (_index[mid].ReplOffset <= offset) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found >= 0) b = _index[found];
        while (b.ReplOffset + b.Used < offset && b.Next is not null) b = b.Next;
        cursor.Block = b;
        cursor.Pos = (int)(offset - b.ReplOffset);
        b.RefCount++;
    }

    /// <summary>Points a cursor at the next byte to be fed (a full-sync replica at its snapshot offset).</summary>
    public void AttachAtEnd(ReplCursor cursor)
    {
        if (!HasBacklog) throw new InvalidOperationException("no backlog");
        AttachAt(cursor, MasterReplOffset + 1);
    }

    /// <summary>Releases a cursor's reference (a replica being freed), then trims.</summary>
    public void Detach(ReplCursor cursor, bool trim = true)
    {
        if (cursor.Pending)
        {
            _pending.Remove(cursor);
            cursor.Pending = false;
        }
        if (cursor.Block is { } b)
        {
            b.RefCount--;
            cursor.Block = null;
            cursor.Pos = 0;
            if (trim) Trim(TrimPerCall);
        }
    }

    /// <summary>
    /// The bytes a cursor has not consumed yet in its current block (moving it to the next block when the current
    /// one is done). Empty when the cursor is at the end of the stream. The memory stays valid while the cursor
    /// holds its block.
    /// </summary>
    public ReadOnlyMemory<byte> Peek(ReplCursor cursor)
    {
        var b = cursor.Block;
        if (b is null) return ReadOnlyMemory<byte>.Empty;
        if (cursor.Pos >= b.Used && b.Next is { } next)
        {
            b.RefCount--;
            next.RefCount++;
            cursor.Block = b = next;
            cursor.Pos = 0;
            Trim(TrimPerCall);
        }
        return b.Buf.AsMemory(cursor.Pos, b.Used - cursor.Pos);
    }

    /// <summary>Marks <paramref name="n"/> bytes as consumed (after a socket write).</summary>
    public void Advance(ReplCursor cursor, int n)
    {
        var b = cursor.Block ?? throw new InvalidOperationException("cursor not attached");
        if (n < 0 || cursor.Pos + n > b.Used) throw new ArgumentOutOfRangeException(nameof(n));
        cursor.Pos += n;
        if (cursor.Pos == b.Used && b.Next is { } next)
        {
            b.RefCount--;
            next.RefCount++;
            cursor.Block = next;
            cursor.Pos = 0;
            Trim(TrimPerCall);
        }
    }

    /// <summary>Global offset of the next byte the cursor will read (master_repl_offset+1 when caught up).</summary>
    public long CursorOffset(ReplCursor cursor) => cursor.Block is { } b ? b.ReplOffset + cursor.Pos : MasterReplOffset + 1;

    /// <summary>True when the cursor has bytes left to read.</summary>
    public bool HasPending(ReplCursor cursor) => cursor.Block is { } b && !(b == Tail && cursor.Pos == b.Used);

    /// <summary>
    /// Output-buffer usage of a replica as redis 7.0 counts it (getClientOutputBufferMemoryUsage): from the start of
    /// its current block to the allocated end of the tail, plus per-block overhead.
    /// </summary>
    public long CobUsage(ReplCursor cursor)
    {
        if (cursor.Block is not { } cur || Tail is not { } tail) return 0;
        return tail.ReplOffset + tail.Size - cur.ReplOffset + (tail.Id - cur.Id + 1) * BlockOverhead;
    }

    /// <summary>Copies the bytes from <paramref name="offset"/> to the end of the stream (tests and diagnostics).</summary>
    public byte[] CopyFrom(long offset)
    {
        if (!CanServe(offset)) throw new ArgumentOutOfRangeException(nameof(offset));
        var result = new byte[MasterReplOffset + 1 - offset];
        int w = 0;
        for (var b = Head; b is not null; b = b.Next)
        {
            long start = Math.Max(offset, b.ReplOffset);
            long end = b.ReplOffset + b.Used;
            if (end <= start) continue;
            int n = (int)(end - start);
            b.Buf.AsSpan((int)(start - b.ReplOffset), n).CopyTo(result.AsSpan(w));
            w += n;
        }
        return result;
    }

    /// <summary>Enumerates the blocks from head to tail (tests, memory reports).</summary>
    public IEnumerable<ReplBlock> Blocks()
    {
        for (var b = Head; b is not null; b = b.Next) yield return b;
    }
}
