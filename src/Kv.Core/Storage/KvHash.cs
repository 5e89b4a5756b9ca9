namespace Kv.Storage;

/// <summary>
/// A hash value: field to value. Iteration order is insertion order with deleted fields removed, which is what
/// redis 7.0.15's listpack encoding shows for small hashes (HGETALL, HKEYS, HVALS).
/// </summary>
public sealed class KvHash : KvObject
{
    private readonly OrderedDictionary<byte[], byte[]> _map = new(ByteArrayComparer.Instance);
    private bool _hashtable;

    /// <inheritdoc />
    public override KvType Type => KvType.Hash;

    /// <inheritdoc />
    public override long Count => _map.Count;

    /// <summary>"listpack" up to hash-max-listpack-entries (128) fields of at most hash-max-listpack-value (64) bytes, else "hashtable" (never converts back, as 7.0).</summary>
    public override string Encoding => _hashtable ? "hashtable" : "listpack";

    /// <summary>Sets a field. Returns true when the field is new.</summary>
    public bool Set(byte[] field, byte[] value)
    {
        bool added = !_map.ContainsKey(field);
        _map[field] = value;
        if (!_hashtable && (_map.Count > 128 || field.Length > 64 || value.Length > 64)) _hashtable = true;
        return added;
    }

    /// <summary>Gets a field's value.</summary>
    public bool TryGet(byte[] field, out byte[] value) => _map.TryGetValue(field, out value!);

    /// <summary>Removes a field. Returns true when it existed.</summary>
    public bool Remove(byte[] field) => _map.Remove(field);

    /// <summary>All (field, value) pairs in iteration order.</summary>
    public IEnumerable<KeyValuePair<byte[], byte[]>> Pairs() => _map;

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvHash { _hashtable = _hashtable };
        foreach (var kv in _map) c._map.Add(kv.Key, kv.Value);
        return c;
    }
}
