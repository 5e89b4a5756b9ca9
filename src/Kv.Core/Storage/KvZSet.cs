namespace Kv.Storage;

/// <summary>
/// A sorted set value: members with double scores, ordered by (score, member bytes) as redis 7.0.15 orders both
/// of its encodings. Small sets ("listpack": at most zset-max-listpack-entries members of at most
/// zset-max-listpack-value bytes) are two parallel sorted arrays; bigger ones ("skiplist") are a
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

    // Packed ("listpack") form: parallel arrays sorted by (score, member).
    private byte[][]? _pm = new byte[4][];
    private double[]? _ps = new double[4];
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
        for (int i = 0; i < _pc; i++)
        {
            var n = zsl.Insert(_ps![i], _pm![i]);
            dict.Set(_pm[i], n);
        }
        _zsl = zsl;
        _dict = dict;
        _pm = null;
        _ps = null;
        _pc = 0;
    }

    /// <summary>zsetConvertToListpackIfNeeded: back to the listpack form when within the given limits.</summary>
    public void ConvertToPackedIfSmall(long maxEntries, long maxValue)
    {
        if (_zsl is null || _zsl.Length > maxEntries) return;
        long maxLen = 0;
        for (var n = _zsl.First; n is not null; n = n.Levels[0].Forward) maxLen = Math.Max(maxLen, n.Member.Length);
        if (maxLen > maxValue) return;
        int cap = Math.Max(4, (int)_zsl.Length);
        var pm = new byte[cap][];
        var ps = new double[cap];
        int i = 0;
        for (var n = _zsl.First; n is not null; n = n.Levels[0].Forward, i++)
        {
            pm[i] = n.Member;
            ps[i] = n.Score == 0 ? 0.0 : n.Score; // listpack text form turns -0 into 0
        }
        _pm = pm; _ps = ps; _pc = i;
        _zsl = null; _dict = null;
    }

    private int PackedFind(ReadOnlySpan<byte> member)
    {
        var pm = _pm!;
        for (int i = 0; i < _pc; i++)
            if (member.SequenceEqual(pm[i])) return i;
        return -1;
    }

    private void PackedInsert(byte[] member, double score)
    {
        // The listpack stores the score as text (d2string) and reads "-0" back as the integer 0.
        if (score == 0) score = 0.0;
        // Binary search the first element greater than (score, member).
        int lo = 0, hi = _pc;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ZSkipList.Less(score, member, _ps![mid], _pm![mid])) hi = mid;
            else lo = mid + 1;
        }
        if (_pc == _pm!.Length)
        {
            Array.Resize(ref _pm, _pc * 2);
            Array.Resize(ref _ps, _pc * 2);
        }
        Array.Copy(_pm, lo, _pm, lo + 1, _pc - lo);
        Array.Copy(_ps!, lo, _ps!, lo + 1, _pc - lo);
        _pm[lo] = member;
        _ps![lo] = score;
        _pc++;
    }

    private void PackedRemoveAt(int i)
    {
        Array.Copy(_pm!, i + 1, _pm!, i, _pc - i - 1);
        Array.Copy(_ps!, i + 1, _ps!, i, _pc - i - 1);
        _pc--;
        _pm![_pc] = null!;
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
            int i = PackedFind(member);
            if (i >= 0)
            {
                if (nx) return AddResult.Nop;
                double cur = _ps![i];
                if (incr)
                {
                    score += cur;
                    if (double.IsNaN(score)) return AddResult.NaN;
                }
                if ((lt && score >= cur) || (gt && score <= cur)) return AddResult.Nop;
                newScore = score;
                if (score != cur)
                {
                    var m = _pm![i];
                    PackedRemoveAt(i);
                    PackedInsert(m, score);
                    return AddResult.Updated;
                }
                return AddResult.None;
            }
            if (xx) return AddResult.Nop;
            if (_pc + 1 > maxEntries || member.Length > maxValue) ToSkiplist();
            else
            {
                PackedInsert(member.ToArray(), score);
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

    /// <summary>Score of a member.</summary>
    public bool TryGetScore(ReadOnlySpan<byte> member, out double score)
    {
        if (_zsl is null)
        {
            int i = PackedFind(member);
            score = i >= 0 ? _ps![i] : 0;
            return i >= 0;
        }
        if (_dict!.TryGetValue(member, out var n)) { score = n.Score; return true; }
        score = 0;
        return false;
    }

    /// <summary>Removes a member.</summary>
    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_zsl is null)
        {
            int i = PackedFind(member);
            if (i < 0) return false;
            PackedRemoveAt(i);
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
        if (_zsl is null) return (_pm![rank], _ps![rank]);
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
            if (!reverse) for (long i = start; i <= end; i++) yield return (_pm![i], _ps![i]);
            else for (long i = end; i >= start; i--) yield return (_pm![i], _ps![i]);
            yield break;
        }
        var n = _zsl.ByRank(reverse ? end : start);
        for (long k = end - start; k >= 0 && n is not null; k--)
        {
            yield return (n.Member, n.Score);
            n = reverse ? n.Backward : n.Levels[0].Forward;
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
        int lo = 0, hi = _pc;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (reached(state, _ps![mid], _pm![mid])) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>Removes the elements with ascending ranks <paramref name="start"/>..<paramref name="end"/> (inclusive, in range).</summary>
    public void RemoveRange(long start, long end)
    {
        if (start > end) return;
        if (_zsl is null)
        {
            int s = (int)start, n = (int)(end - start + 1);
            Array.Copy(_pm!, s + n, _pm!, s, _pc - s - n);
            Array.Copy(_ps!, s + n, _ps!, s, _pc - s - n);
            for (int i = _pc - n; i < _pc; i++) _pm![i] = null!;
            _pc -= n;
            return;
        }
        var victims = new List<ZSkipList.Node>((int)Math.Min(end - start + 1, 1 << 20));
        var node = _zsl.ByRank(start);
        for (long k = start; k <= end && node is not null; k++, node = node.Levels[0].Forward) victims.Add(node);
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
            for (int i = 0; i < _pc; i++) visit(_pm![i], _ps![i]);
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
            c._pm = (byte[][])_pm!.Clone();
            c._ps = (double[])_ps!.Clone();
            c._pc = _pc;
        }
        else
        {
            for (var n = _zsl.First; n is not null; n = n.Levels[0].Forward)
                c._dict!.Set(n.Member, c._zsl!.Insert(n.Score, n.Member));
        }
        return c;
    }
}
