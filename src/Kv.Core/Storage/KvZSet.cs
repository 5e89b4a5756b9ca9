namespace Kv.Storage;

/// <summary>
/// A sorted set value: members with double scores, ordered by (score, member bytes) as redis 7.0.15 orders both
/// of its encodings. Small sets ("listpack": at most zset-max-listpack-entries members of at most
/// zset-max-listpack-value bytes) are one byte buffer of (length-prefixed member, 8-byte score) entries in order,
/// about the size of redis's listpack; bigger ones ("skiplist") are a
/// <see cref="ZSkipList"/> plus a member dictionary, so lookups are O(1) and rank/range operations O(log n).
/// Converts listpack to skiplist when a limit is passed; the reverse only happens where redis does it
/// (<see cref="ConvertToPackedIfSmall"/>, used by the *STORE commands). Not thread-safe.
/// </summary>
public sealed class KvZSet : KvObject
{
    /// <summary>Outcome flags of <see cref="Add"/> (ZADD_OUT_* in redis).</summary>
    [Flags]
    public enum AddResult
    {
        /// <summary>Score unchanged, element processed.</summary>
        None = 0,
        /// <summary>New element.</summary>
        Added = 1,
        /// <summary>Score changed.</summary>
        Updated = 2,
        /// <summary>Nothing done (NX/XX/GT/LT condition).</summary>
        Nop = 4,
        /// <summary>The resulting score is NaN; nothing changed.</summary>
        NaN = 8,
    }

    /// <summary>ZADD option flags (ZADD_IN_*).</summary>
    [Flags]
    public enum AddFlags
    {
        /// <summary>Plain add/update.</summary>
        None = 0,
        /// <summary>INCR.</summary>
        Incr = 1,
        /// <summary>NX.</summary>
        Nx = 2,
        /// <summary>XX.</summary>
        Xx = 4,
        /// <summary>GT.</summary>
        Gt = 8,
        /// <summary>LT.</summary>
        Lt = 16,
    }

    // Packed ("listpack") form: entries [varint member length][member][score, 8 bytes LE] in (score, member) order.
    private byte[]? _zl = [];
    private int _used;
    private int _pc;

    // Skiplist form.
    private ZSkipList? _zsl;
    private KvDict<ZSkipList.Node>? _dict;

    /// <summary>Creates an empty sorted set in the listpack form, or the skiplist form when <paramref name="skiplist"/>.</summary>
    public KvZSet(bool skiplist = false)
    {
        if (skiplist) ToSkiplist();
    }

    /// <inheritdoc />
    public override KvType Type => KvType.ZSet;

    /// <inheritdoc />
    public override long Count => _zsl is null ? _pc : _zsl.Length;

    /// <summary>True for the listpack form.</summary>
    public bool IsPacked => _zsl is null;

    /// <inheritdoc />
    public override string Encoding => _zsl is null ? "listpack" : "skiplist";

    /// <summary>Converts to the skiplist form (never back, except through <see cref="ConvertToPackedIfSmall"/>).</summary>
    public void ToSkiplist()
    {
        if (_zsl is not null) return;
        var zsl = new ZSkipList();
        var dict = new KvDict<ZSkipList.Node>(Math.Max(4, _pc));
        foreach (var (m, sc) in PackedRange(0, _pc - 1))
        {
            var n = zsl.Insert(sc, m);
            dict.Set(m, n);
        }
        _zsl = zsl;
        _dict = dict;
        _zl = null;
        _used = 0;
        _pc = 0;
    }

    /// <summary>zsetConvertToListpackIfNeeded: back to the listpack form when within the given limits.</summary>
    public void ConvertToPackedIfSmall(long maxEntries, long maxValue)
    {
        if (_zsl is null || _zsl.Length > maxEntries) return;
        long maxLen = 0;
        for (var n = _zsl.First; n is not null; n = n.L0.Forward) maxLen = Math.Max(maxLen, n.Member.Length);
        if (maxLen > maxValue) return;
        var zsl = _zsl;
        _zl = [];
        _used = 0;
        _pc = 0;
        _zsl = null;
        _dict = null;
        for (var n = zsl.First; n is not null; n = n.L0.Forward) PackedAppend(n.Member, n.Score);
    }

    private static double ReadScore(ReadOnlySpan<byte> b, int pos) => System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(b.Slice(pos, 8));

    /// <summary>Finds a member in the packed form: its index, entry offset and entry end.</summary>
    private int PackedFind(ReadOnlySpan<byte> member, out int entry, out int end, out double score)
    {
        var b = _zl.AsSpan(0, _used);
        int pos = 0;
        for (int i = 0; i < _pc; i++)
        {
            entry = pos;
            int ml = PackedBytes.ReadLen(b, ref pos);
            bool match = ml == member.Length && b.Slice(pos, ml).SequenceEqual(member);
            pos += ml;
            score = ReadScore(b, pos);
            pos += 8;
            if (match)
            {
                end = pos;
                return i;
            }
        }
        entry = end = -1;
        score = 0;
        return -1;
    }

    private int PackedFind(ReadOnlySpan<byte> member) => PackedFind(member, out _, out _, out _);

    /// <summary>Offset of the entry with index <paramref name="index"/> (or the end offset for index == count).</summary>
    private int PackedOffset(long index)
    {
        var b = _zl.AsSpan(0, _used);
        int pos = 0;
        for (long i = 0; i < index; i++)
        {
            int ml = PackedBytes.ReadLen(b, ref pos);
            pos += ml + 8;
        }
        return pos;
    }

    private static int EntrySize(int memberLength) => PackedBytes.LenSize(memberLength) + memberLength + 8;

    private void WriteEntry(int at, ReadOnlySpan<byte> member, double score)
    {
        // The listpack stores the score as text (d2string) and reads "-0" back as the integer 0.
        if (score == 0) score = 0.0;
        at += PackedBytes.WriteString(_zl.AsSpan(at), member);
        System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(_zl.AsSpan(at, 8), score);
    }

    private void PackedAppend(ReadOnlySpan<byte> member, double score)
    {
        int at = _used;
        _used = PackedBytes.Splice(ref _zl!, _used, at, 0, EntrySize(member.Length));
        WriteEntry(at, member, score);
        _pc++;
    }

    private void PackedInsert(ReadOnlySpan<byte> member, double score)
    {
        // Before the first element greater than (score, member).
        var b = _zl.AsSpan(0, _used);
        int pos = 0;
        while (pos < b.Length)
        {
            int start = pos;
            int ml = PackedBytes.ReadLen(b, ref pos);
            var m = b.Slice(pos, ml);
            double sc = ReadScore(b, pos + ml);
            if (ZSkipList.Less(score, member, sc, m))
            {
                pos = start;
                break;
            }
            pos += ml + 8;
        }
        _used = PackedBytes.Splice(ref _zl!, _used, pos, 0, EntrySize(member.Length));
        WriteEntry(pos, member, score);
        _pc++;
    }

    private void PackedRemove(int entry, int end)
    {
        _used = PackedBytes.Splice(ref _zl!, _used, entry, end - entry, 0);
        _pc--;
    }

    /// <summary>Entries with indexes start..end (inclusive) of the packed form, in order.</summary>
    private IEnumerable<(byte[] Member, double Score)> PackedRange(long start, long end)
    {
        int pos = PackedOffset(start);
        for (long i = start; i <= end; i++)
        {
            var b = _zl.AsSpan(0, _used);
            int ml = PackedBytes.ReadLen(b, ref pos);
            var m = b.Slice(pos, ml).ToArray();
            double sc = ReadScore(b, pos + ml);
            pos += ml + 8;
            yield return (m, sc);
        }
    }

    /// <summary>
    /// zsetAdd: adds or updates <paramref name="member"/> under the ZADD flags. <paramref name="newScore"/> gets the
    /// resulting score when the element was processed. Converts to skiplist when a new element would pass
    /// <paramref name="maxEntries"/> or its length passes <paramref name="maxValue"/>.
    /// </summary>
    public AddResult Add(ReadOnlySpan<byte> member, double score, AddFlags flags, long maxEntries, long maxValue, out double newScore)
    {
        newScore = score;
        if (double.IsNaN(score)) return AddResult.NaN;
        bool incr = (flags & AddFlags.Incr) != 0, nx = (flags & AddFlags.Nx) != 0, xx = (flags & AddFlags.Xx) != 0;
        bool gt = (flags & AddFlags.Gt) != 0, lt = (flags & AddFlags.Lt) != 0;
        if (_zsl is null)
        {
            int i = PackedFind(member, out int entry, out int end, out double cur);
            if (i >= 0)
            {
                if (nx) return AddResult.Nop;
                if (incr)
                {
                    score += cur;
                    if (double.IsNaN(score)) return AddResult.NaN;
                }
                if ((lt && score >= cur) || (gt && score <= cur)) return AddResult.Nop;
                newScore = score;
                if (score != cur)
                {
                    PackedRemove(entry, end);
                    PackedInsert(member, score);
                    return AddResult.Updated;
                }
                return AddResult.None;
            }
            if (xx) return AddResult.Nop;
            if (_pc + 1 > maxEntries || member.Length > maxValue) ToSkiplist();
            else
            {
                PackedInsert(member, score);
                return AddResult.Added;
            }
        }
        ref var node = ref _dict!.GetValueRefOrNullRef(member);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref node))
        {
            if (nx) return AddResult.Nop;
            double cur = node.Score;
            if (incr)
            {
                score += cur;
                if (double.IsNaN(score)) return AddResult.NaN;
            }
            if ((lt && score >= cur) || (gt && score <= cur)) return AddResult.Nop;
            newScore = score;
            if (score != cur)
            {
                node = _zsl!.UpdateScore(node, score);
                return AddResult.Updated;
            }
            return AddResult.None;
        }
        if (xx) return AddResult.Nop;
        var key = member.ToArray();
        var n = _zsl!.Insert(score, key);
        _dict.Set(key, n);
        return AddResult.Added;
    }

    /// <summary>Adds or updates a member with default limits (128 entries, 64 bytes). Returns true when new (used by the RDB loader).</summary>
    public bool Set(byte[] member, double score) => Add(member, score, AddFlags.None, 128, 64, out _) == AddResult.Added;

    /// <summary>
    /// Bulk loading (RDB): makes room in the listpack form for <paramref name="count"/> more members of
    /// <paramref name="payloadBytes"/> bytes in total, so the following adds do not regrow the buffer. No effect
    /// when they would not fit the listpack form with the default limits.
    /// </summary>
    internal void ReservePacked(int count, long payloadBytes)
    {
        if (_zsl is not null || _pc + count > 128 || payloadBytes > count * 64L) return;
        // Packed members are at most 64 bytes: a one-byte length prefix, then the member and an 8-byte score.
        int need = _used + 9 * count + (int)payloadBytes;
        PackedBytes.Reserve(ref _zl!, _used, need);
    }

    /// <summary>Adds or updates a member from a span with the default entry limit (128) and <paramref name="maxValue"/> (RDB loading). Returns true when new.</summary>
    internal bool SetSpan(ReadOnlySpan<byte> member, double score, long maxValue = 64) => Add(member, score, AddFlags.None, 128, maxValue, out _) == AddResult.Added;

    /// <summary>
    /// The listpack form's buffer: in (score, member) order, each entry a <see cref="PackedBytes"/> varint length, the
    /// member and the score (8 bytes, little-endian double). False for the skiplist form. For serialization without
    /// an array per member; valid until the next change.
    /// </summary>
    internal bool TryGetPacked(out ReadOnlySpan<byte> packed)
    {
        packed = _zsl is null ? _zl.AsSpan(0, _used) : default;
        return _zsl is null;
    }

    /// <summary>Score of a member.</summary>
    public bool TryGetScore(ReadOnlySpan<byte> member, out double score)
    {
        if (_zsl is null) return PackedFind(member, out _, out _, out score) >= 0;
        if (_dict!.TryGetValue(member, out var n)) { score = n.Score; return true; }
        score = 0;
        return false;
    }

    /// <summary>Removes a member.</summary>
    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_zsl is null)
        {
            if (PackedFind(member, out int entry, out int end, out _) < 0) return false;
            PackedRemove(entry, end);
            return true;
        }
        if (!_dict!.Remove(member, out _, out var n)) return false;
        _zsl.Delete(n.Score, n.Member);
        return true;
    }

    /// <summary>0-based ascending rank of a member, or -1.</summary>
    public long Rank(ReadOnlySpan<byte> member)
    {
        if (_zsl is null) return PackedFind(member);
        if (!_dict!.TryGetValue(member, out var n)) return -1;
        return _zsl.Rank(n.Score, n.Member);
    }

    /// <summary>Element at 0-based ascending rank (must be in range).</summary>
    public (byte[] Member, double Score) At(long rank)
    {
        if (_zsl is null)
        {
            int pos = PackedOffset(rank);
            var b = _zl.AsSpan(0, _used);
            int ml = PackedBytes.ReadLen(b, ref pos);
            return (b.Slice(pos, ml).ToArray(), ReadScore(b, pos + ml));
        }
        var n = _zsl.ByRank(rank)!;
        return (n.Member, n.Score);
    }

    /// <summary>
    /// Elements with ascending ranks <paramref name="start"/>..<paramref name="end"/> (inclusive, in range),
    /// visited in ascending order, or descending when <paramref name="reverse"/>.
    /// </summary>
    public IEnumerable<(byte[] Member, double Score)> Range(long start, long end, bool reverse)
    {
        if (start > end) yield break;
        if (_zsl is null)
        {
            if (!reverse)
            {
                foreach (var e in PackedRange(start, end)) yield return e;
            }
            else
            {
                var all = PackedRange(start, end).ToArray();
                for (int i = all.Length - 1; i >= 0; i--) yield return all[i];
            }
            yield break;
        }
        var n = _zsl.ByRank(reverse ? end : start);
        for (long k = end - start; k >= 0 && n is not null; k--)
        {
            yield return (n.Member, n.Score);
            n = reverse ? n.Backward : n.L0.Forward;
        }
    }

    /// <summary>Members in ascending (score, member) order.</summary>
    public IEnumerable<(byte[] Member, double Score)> Ascending() => Range(0, Count - 1, false);

    /// <summary>
    /// Number of leading (ascending) elements for which <paramref name="reached"/> is false; the predicate must be
    /// monotonic along the order. O(log n).
    /// </summary>
    public long CountBefore<TState>(TState state, Func<TState, double, byte[], bool> reached)
    {
        if (_zsl is not null) return _zsl.CountBefore(state, reached);
        long idx = 0;
        foreach (var (m, sc) in PackedRange(0, _pc - 1))
        {
            if (reached(state, sc, m)) return idx;
            idx++;
        }
        return idx;
    }

    /// <summary>Removes the elements with ascending ranks <paramref name="start"/>..<paramref name="end"/> (inclusive, in range).</summary>
    public void RemoveRange(long start, long end)
    {
        if (start > end) return;
        if (_zsl is null)
        {
            int from = PackedOffset(start), to = PackedOffset(end + 1);
            _used = PackedBytes.Splice(ref _zl!, _used, from, to - from, 0);
            _pc -= (int)(end - start + 1);
            return;
        }
        var victims = new List<ZSkipList.Node>((int)Math.Min(end - start + 1, 1 << 20));
        var node = _zsl.ByRank(start);
        for (long k = start; k <= end && node is not null; k++, node = node.L0.Forward) victims.Add(node);
        foreach (var v in victims)
        {
            _dict!.Remove(v.Member);
            _zsl.Delete(v.Score, v.Member);
        }
    }

    /// <summary>
    /// One ZSCAN step over the skiplist form's dictionary (same cursor semantics as SCAN). For the listpack form
    /// every element is visited and 0 is returned.
    /// </summary>
    public ulong Scan(ulong cursor, Action<byte[], double> visit)
    {
        if (_zsl is null)
        {
            foreach (var (m, sc) in PackedRange(0, _pc - 1)) visit(m, sc);
            return 0;
        }
        return _dict!.Scan(cursor, (k, n) => visit(k, n.Score));
    }

    /// <summary>A uniformly random element (set must be non-empty).</summary>
    public (byte[] Member, double Score) Random(Random rng) => At(rng.NextInt64(Count));

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvZSet(_zsl is not null);
        if (_zsl is null)
        {
            c._zl = _zl.AsSpan(0, _used).ToArray();
            c._used = _used;
            c._pc = _pc;
        }
        else
        {
            for (var n = _zsl.First; n is not null; n = n.L0.Forward)
                c._dict!.Set(n.Member, c._zsl!.Insert(n.Score, n.Member));
        }
        return c;
    }
}
