namespace Kv.Storage;

/// <summary>
/// A sorted set value: members with double scores, ordered by (score, member bytes) as redis's zskiplist.
/// </summary>
public sealed class KvZSet : KvObject
{
    private readonly Dictionary<byte[], double> _scores = new(ByteArrayComparer.Instance);
    private readonly SortedSet<(double Score, byte[] Member)> _order = new(Comparer<(double Score, byte[] Member)>.Create(
        (a, b) => a.Score != b.Score ? a.Score.CompareTo(b.Score) : ByteArrayComparer.Instance.Compare(a.Member, b.Member)));

    /// <inheritdoc />
    public override KvType Type => KvType.ZSet;

    /// <inheritdoc />
    public override long Count => _scores.Count;

    /// <inheritdoc />
    public override string Encoding => "skiplist";

    /// <summary>Adds or updates a member. Returns true when the member is new.</summary>
    public bool Set(byte[] member, double score)
    {
        if (_scores.TryGetValue(member, out var old))
        {
            if (old == score) return false;
            _order.Remove((old, member));
            _scores[member] = score;
            _order.Add((score, member));
            return false;
        }
        _scores[member] = score;
        _order.Add((score, member));
        return true;
    }

    /// <summary>Score of a member.</summary>
    public bool TryGetScore(byte[] member, out double score) => _scores.TryGetValue(member, out score);

    /// <summary>Removes a member.</summary>
    public bool Remove(byte[] member)
    {
        if (!_scores.Remove(member, out var s)) return false;
        _order.Remove((s, member));
        return true;
    }

    /// <summary>Members in ascending (score, member) order.</summary>
    public IEnumerable<(byte[] Member, double Score)> Ascending()
    {
        foreach (var (s, m) in _order) yield return (m, s);
    }

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvZSet();
        foreach (var (s, m) in _order) c.Set(m, s);
        return c;
    }
}
