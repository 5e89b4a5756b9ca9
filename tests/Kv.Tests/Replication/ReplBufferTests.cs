using CsCheck;
using Kv.Replication;

namespace Kv.Tests.Replication;

/// <summary>Unit and property tests of the shared replication buffer (redis 7.0 replBufBlock list semantics).</summary>
public class ReplBufferTests
{
    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Refcount invariant: every block's refcount = cursors on it + 1 for the head (the backlog's ref).</summary>
    private static void CheckRefcounts(ReplBuffer buf, IEnumerable<ReplCursor> cursors)
    {
        var counts = new Dictionary<ReplBlock, int>();
        foreach (var c in cursors) if (c.Block is { } b) counts[b] = counts.GetValueOrDefault(b) + 1;
        foreach (var b in buf.Blocks())
        {
            int expected = counts.GetValueOrDefault(b) + (b == buf.Head ? 1 : 0);
            Assert.Equal(expected, b.RefCount);
        }
        foreach (var c in cursors)
            if (c.Block is { } b) Assert.Contains(b, buf.Blocks());
        // histlen = bytes held; offsets contiguous.
        long held = 0;
        ReplBlock? prev = null;
        foreach (var b in buf.Blocks())
        {
            if (prev is not null) Assert.Equal(prev.ReplOffset + prev.Used, b.ReplOffset);
            held += b.Used;
            prev = b;
        }
        Assert.Equal(buf.Histlen, held);
        if (buf.Head is { } h) Assert.Equal(buf.FirstByteOffset, h.ReplOffset);
    }

    private static byte[] ReadAll(ReplBuffer buf, ReplCursor c)
    {
        var ms = new MemoryStream();
        while (true)
        {
            var m = buf.Peek(c);
            if (m.IsEmpty) break;
            // Read in two halves to exercise partial advances.
            int half = Math.Max(1, m.Length / 2);
            ms.Write(m.Span[..half]);
            buf.Advance(c, half);
        }
        return ms.ToArray();
    }

    [Fact]
    public void NoBacklogMeansNothingIsBuffered()
    {
        var buf = new ReplBuffer();
        Assert.False(buf.Feed(new byte[100]));
        Assert.Equal(0, buf.MasterReplOffset);
        Assert.Equal(0, buf.Memory);
    }

    [Fact]
    public void BlockSizingFollows7010Rules()
    {
        var buf = new ReplBuffer { BacklogSize = 1024 * 1024 };
        buf.CreateBacklog(0);
        buf.Feed(new byte[100]);
        Assert.Equal(ReplBuffer.MinBlockSize, buf.Head!.Size); // small writes get 16 KiB
        buf.Feed(new byte[300 * 1024]);
        // Big write: tail filled, then blocks of at most max(1mb/16, 16k) = 64 KiB.
        Assert.All(buf.Blocks(), b => Assert.InRange(b.Size, ReplBuffer.MinBlockSize, 64 * 1024));
        Assert.Equal(100 + 300 * 1024, buf.MasterReplOffset);
        // Backlog minimum is 16 KiB.
        buf.BacklogSize = 1;
        Assert.Equal(16 * 1024, buf.BacklogSize);
    }

    [Fact]
    public void HistlenStaysBetweenSizeAndSizePlusOneBlock()
    {
        var buf = new ReplBuffer { BacklogSize = 64 * 1024 };
        buf.CreateBacklog(1000);
        for (int i = 0; i < 200; i++) buf.Feed(Bytes(3000, i));
        Assert.InRange(buf.Histlen, 64 * 1024, 64 * 1024 + ReplBuffer.MinBlockSize);
        Assert.Equal(1000 + 200 * 3000, buf.MasterReplOffset);
        Assert.Equal(buf.MasterReplOffset - buf.Histlen + 1, buf.FirstByteOffset);
        Assert.False(buf.CanServe(buf.FirstByteOffset - 1));
        Assert.True(buf.CanServe(buf.FirstByteOffset));
        Assert.True(buf.CanServe(buf.MasterReplOffset + 1));
        Assert.False(buf.CanServe(buf.MasterReplOffset + 2));
        CheckRefcounts(buf, []);
    }

    [Fact]
    public void SlowReplicaPinsBlocksAndTrimIsBoundedPerCall()
    {
        var buf = new ReplBuffer { BacklogSize = 16 * 1024 };
        buf.CreateBacklog(0);
        var slow = new ReplCursor();
        buf.Feed(new byte[10]);
        buf.AttachAt(slow, 1);
        for (int i = 0; i < 300; i++) buf.Feed(new byte[16 * 1024]);
        // Nothing before the slow replica's block may go: the buffer holds the whole history.
        Assert.Equal(buf.MasterReplOffset, buf.Histlen);
        Assert.True(buf.BlockCount > 200);
        Assert.True(buf.IndexCount >= 4); // every 64th block indexed
        int before = buf.BlockCount;
        buf.Detach(slow); // release: one trim call frees at most 64 blocks
        Assert.Equal(before - ReplBuffer.TrimPerCall, buf.BlockCount);
        buf.Feed(new byte[16 * 1024]); // adding a block trims again
        Assert.True(buf.BlockCount < before - ReplBuffer.TrimPerCall);
        CheckRefcounts(buf, [slow]);
    }

    [Fact]
    public void CobUsageCountsFromCurrentBlockStartToAllocatedTail()
    {
        var buf = new ReplBuffer { BacklogSize = 16 * 1024 };
        buf.CreateBacklog(0);
        buf.Feed(new byte[100]);
        var c = new ReplCursor();
        buf.AttachAt(c, 50);
        long expected = buf.Tail!.ReplOffset + buf.Tail.Size - buf.Head!.ReplOffset + ReplBuffer.BlockOverhead;
        Assert.Equal(expected, buf.CobUsage(c));
        buf.Feed(new byte[40 * 1024]);
        Assert.True(buf.CobUsage(c) >= 40 * 1024);
    }

    [Fact]
    public void PendingCursorGetsFirstByteWritten()
    {
        var buf = new ReplBuffer();
        buf.CreateBacklog(500);
        var c = new ReplCursor();
        buf.AttachAtEnd(c);
        Assert.True(c.Pending);
        var data = Bytes(1000, 1);
        buf.Feed(data);
        Assert.False(c.Pending);
        Assert.Equal(501, buf.CursorOffset(c));
        Assert.Equal(data, ReadAll(buf, c));
        CheckRefcounts(buf, [c]);
    }

    [Fact]
    public void FreeBacklogRefusesWhileReferenced()
    {
        var buf = new ReplBuffer();
        buf.CreateBacklog(0);
        buf.Feed(new byte[10]);
        var c = new ReplCursor();
        buf.AttachAt(c, 1);
        Assert.Throws<InvalidOperationException>(buf.FreeBacklog);
        buf.Detach(c);
        buf.FreeBacklog();
        Assert.False(buf.HasBacklog);
        Assert.Equal(0, buf.Memory);
    }

    /// <summary>
    /// Steady streaming reuses the storage of trimmed blocks (no new array per block), and a replica that follows the
    /// stream, and one that lags inside the window, still read exactly the bytes fed.
    /// </summary>
    [Fact]
    public void TrimmedBlockStorageIsReusedWithoutCorruptingReaders()
    {
        var buf = new ReplBuffer { BacklogSize = 64 * 1024 }; // 16 KiB blocks
        buf.CreateBacklog(0);
        var follower = new ReplCursor();
        var lagging = new ReplCursor();
        buf.AttachAt(follower, 1);
        buf.AttachAt(lagging, 1);
        var all = new MemoryStream();
        var followed = new MemoryStream();
        var lagged = new MemoryStream();
        var arrays = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < 400; i++)
        {
            var d = Bytes(1000 + i % 7 * 500, i);
            buf.Feed(d);
            all.Write(d);
            foreach (var b in buf.Blocks()) arrays.Add(b.Buf);
            followed.Write(ReadAll(buf, follower));
            // The lagging replica pins its block for 60 writes (~150 KiB, beyond the backlog), then catches up.
            if (i % 60 == 59) lagged.Write(ReadAll(buf, lagging));
            CheckRefcounts(buf, [follower, lagging]);
        }
        lagged.Write(ReadAll(buf, lagging));
        Assert.Equal(all.ToArray(), followed.ToArray());
        Assert.Equal(all.ToArray(), lagged.ToArray());
        long created = buf.Tail!.Id + 1;
        Assert.True(created > 50, $"{created} blocks created");
        Assert.True(arrays.Count < created / 2, $"{arrays.Count} arrays for {created} blocks: trimmed storage not reused");
    }

    /// <summary>Any offset in the window yields exactly the bytes written from it, whatever the write pattern.</summary>
    [Fact]
    public void PropertyAnyOffsetInWindowYieldsExactBytes()
    {
        Gen.Select(Gen.Int[0, 3], Gen.Int[1, 70_000].Array[1, 40], Gen.Int[0, 1000].Array[1, 8], Gen.Long[0, 1_000_000])
            .Sample((sizeSel, writes, picks, start) =>
            {
                long backlog = new long[] { 16 * 1024, 40 * 1024, 100 * 1024, 1024 * 1024 }[sizeSel];
                var buf = new ReplBuffer { BacklogSize = backlog };
                buf.CreateBacklog(start);
                var all = new MemoryStream();
                int seed = 0;
                foreach (var w in writes)
                {
                    var d = Bytes(w, seed++);
                    buf.Feed(d);
                    all.Write(d);
                }
                var stream = all.ToArray();
                Assert.Equal(start + stream.Length, buf.MasterReplOffset);
                Assert.True(buf.Histlen >= Math.Min(backlog, stream.Length));
                var cursors = new List<ReplCursor>();
                foreach (var p in picks)
                {
                    long off = buf.FirstByteOffset + (long)(p / 1000.0 * buf.Histlen);
                    var c = new ReplCursor();
                    buf.AttachAt(c, off);
                    cursors.Add(c);
                    CheckRefcounts(buf, cursors);
                    var expected = stream.AsSpan((int)(off - start - 1)).ToArray();
                    Assert.Equal(expected, buf.CopyFrom(off));
                }
                // Feed more while cursors hold positions: they must still read their exact suffix.
                var more = Bytes(3 * (int)backlog, 99);
                buf.Feed(more);
                all.Write(more);
                stream = all.ToArray();
                CheckRefcounts(buf, cursors);
                foreach (var c in cursors)
                {
                    long off = buf.CursorOffset(c);
                    Assert.Equal(stream.AsSpan((int)(off - start - 1)).ToArray(), ReadAll(buf, c));
                    Assert.False(buf.HasPending(c));
                    CheckRefcounts(buf, cursors);
                }
                foreach (var c in cursors) buf.Detach(c);
                for (int i = 0; i < 10; i++) buf.Trim();
                CheckRefcounts(buf, []);
                Assert.InRange(buf.Histlen, Math.Min(backlog, stream.Length), backlog + buf.MaxBlockSize);
            }, iter: 40);
    }
}
