namespace Kv.Storage;

/// <summary>
/// A set value. Redis 7.0.15 stores sets of at most set-max-intset-entries (512) integers as an intset, which
/// iterates in ascending numeric order; other sets are hashtables.
/// </summary>
public sealed class KvSet : KvObject
{
    private readonly HashSet<byte[]> _set = new(ByteArrayComparer.Instance);

    /// <inheritdoc />
    public override KvType Type => KvType.Set;

    /// <inheritdoc />
    public override long Count => _set.Count;

    /// <inheritdoc />
    public override string Encoding => "hashtable";

    /// <summary>Adds a member. Returns true when it is new.</summary>
    public bool Add(byte[] member) => _set.Add(member);

    /// <summary>Removes a member. Returns true when it was present.</summary>
    public bool Remove(byte[] member) => _set.Remove(member);

    /// <summary>Membership test.</summary>
    public bool Contains(byte[] member) => _set.Contains(member);

    /// <summary>All members.</summary>
    public IEnumerable<byte[]> Members() => _set;

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvSet();
        foreach (var m in _set) c._set.Add(m);
        return c;
    }
}
