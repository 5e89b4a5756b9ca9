namespace Kv.Storage;

/// <summary>
/// Skip list with spans ordered by (score, member bytes), the structure behind redis's "skiplist" sorted-set
/// encoding (W. Pugh's skip list with per-link spans so rank queries are O(log n); max 32 levels, p = 1/4, as
/// described for zskiplist in redis 7.0.15 server.h). Not thread-safe.
/// </summary>
internal sealed class ZSkipList
{
    private const int MaxLevel = 32;

    /// <summary>One element. Levels 0 and 1 are inline (3 nodes in 4 have one level); higher ones in <see cref="Up"/>.</summary>
    internal sealed class Node
    {
        public readonly byte[] Member;
        public double Score;
        public Node? Backward;
        public Level L0, L1;
        public readonly Level[]? Up;
        public readonly int Height;

        public Node(byte[] member, double score, int level)
        {
            Member = member;
            Score = score;
            Height = level;
            if (level > 2) Up = new Level[level - 2];
        }

        /// <summary>Level <paramref name="i"/> (0-based, below <see cref="Height"/>).</summary>
        public ref Level this[int i]
        {
            get
            {
                if (i == 0) return ref L0;
                if (i == 1) return ref L1;
                return ref Up![i - 2];
            }
        }
    }

    /// <summary>Forward link and how many elements it skips.</summary>
    internal struct Level
    {
        public Node? Forward;
        public long Span;
    }

    private readonly Node _header = new([], 0, MaxLevel);

    // Scratch "update" vector of Insert/Delete (mutations only run under the server's execution lock).
    [ThreadStatic] private static Node[]? t_update;

    private static Node[] Scratch() => t_update ??= new Node[MaxLevel];
    private Node? _tail;
    private int _level = 1;

    /// <summary>Number of elements.</summary>
    public long Length { get; private set; }

    /// <summary>First node (lowest score), or null.</summary>
    public Node? First => _header.L0.Forward;

    /// <summary>Last node (highest score), or null.</summary>
    public Node? Last => _tail;

    private static int RandomLevel()
    {
        int level = 1;
        while (level < MaxLevel && (Random.Shared.Next() & 0xFFFF) < 0xFFFF / 4) level++;
        return level;
    }

    /// <summary>True when (s1, m1) sorts before (s2, m2).</summary>
    internal static bool Less(double s1, ReadOnlySpan<byte> m1, double s2, ReadOnlySpan<byte> m2)
        => s1 < s2 || (s1 == s2 && m1.SequenceCompareTo(m2) < 0);

    /// <summary>Inserts a member that is not present.</summary>
    public Node Insert(double score, byte[] member)
    {
        Span<long> rank = stackalloc long[MaxLevel];
        var update = Scratch();
        var x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            rank[i] = i == _level - 1 ? 0 : rank[i + 1];
            while (x[i].Forward is { } f && Less(f.Score, f.Member, score, member))
            {
                rank[i] += x[i].Span;
                x = f;
            }
            update[i] = x;
        }
        int level = RandomLevel();
        if (level > _level)
        {
            for (int i = _level; i < level; i++)
            {
                rank[i] = 0;
                update[i] = _header;
                update[i][i].Span = Length;
            }
            _level = level;
        }
        var n = new Node(member, score, level);
        for (int i = 0; i < level; i++)
        {
            n[i].Forward = update[i][i].Forward;
            update[i][i].Forward = n;
            n[i].Span = update[i][i].Span - (rank[0] - rank[i]);
            update[i][i].Span = rank[0] - rank[i] + 1;
        }
        for (int i = level; i < _level; i++) update[i][i].Span++;
        n.Backward = update[0] == _header ? null : update[0];
        if (n.L0.Forward is { } next) next.Backward = n;
        else _tail = n;
        Length++;
        return n;
    }

    private void Unlink(Node x, Node[] update)
    {
        for (int i = 0; i < _level; i++)
        {
            if (update[i][i].Forward == x)
            {
                update[i][i].Span += x[i].Span - 1;
                update[i][i].Forward = x[i].Forward;
            }
            else update[i][i].Span--;
        }
        if (x.L0.Forward is { } next) next.Backward = x.Backward;
        else _tail = x.Backward;
        while (_level > 1 && _header[_level - 1].Forward is null) _level--;
        Length--;
    }

    private Node? FindUpdate(double score, ReadOnlySpan<byte> member, Node[] update)
    {
        var x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x[i].Forward is { } f && Less(f.Score, f.Member, score, member)) x = f;
            update[i] = x;
        }
        var c = x.L0.Forward;
        return c is not null && c.Score == score && c.Member.AsSpan().SequenceEqual(member) ? c : null;
    }

    /// <summary>Deletes the element with this score and member. Returns false when absent.</summary>
    public bool Delete(double score, ReadOnlySpan<byte> member)
    {
        var update = Scratch();
        var x = FindUpdate(score, member, update);
        if (x is null) return false;
        Unlink(x, update);
        return true;
    }

    /// <summary>Changes the score of an existing node, returning the node that now holds the element.</summary>
    public Node UpdateScore(Node node, double newScore)
    {
        // Stays in place when the order is unchanged.
        if ((node.Backward is null || Less(node.Backward.Score, node.Backward.Member, newScore, node.Member)) &&
            (node.L0.Forward is null || Less(newScore, node.Member, node.L0.Forward!.Score, node.L0.Forward!.Member)))
        {
            node.Score = newScore;
            return node;
        }
        var update = Scratch();
        var x = FindUpdate(node.Score, node.Member, update)!;
        Unlink(x, update);
        return Insert(newScore, node.Member);
    }

    /// <summary>0-based rank of the element, or -1.</summary>
    public long Rank(double score, ReadOnlySpan<byte> member)
    {
        long rank = 0;
        var x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x[i].Forward is { } f && !Less(score, member, f.Score, f.Member))
            {
                rank += x[i].Span;
                x = f;
            }
            if (x != _header && x.Score == score && x.Member.AsSpan().SequenceEqual(member)) return rank - 1;
        }
        return -1;
    }

    /// <summary>Node at 0-based rank, or null when out of range.</summary>
    public Node? ByRank(long rank0)
    {
        long target = rank0 + 1, traversed = 0;
        var x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x[i].Forward is { } f && traversed + x[i].Span <= target)
            {
                traversed += x[i].Span;
                x = f;
            }
            if (traversed == target) return x;
        }
        return null;
    }

    /// <summary>
    /// Number of leading elements for which <paramref name="reached"/> is false (the predicate must be monotonic
    /// along the order: false...false, true...true).
    /// </summary>
    public long CountBefore<TState>(TState state, Func<TState, double, byte[], bool> reached)
    {
        long rank = 0;
        var x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x[i].Forward is { } f && !reached(state, f.Score, f.Member))
            {
                rank += x[i].Span;
                x = f;
            }
        }
        return rank;
    }
}
